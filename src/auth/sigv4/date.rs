//! `X-Amz-Date` / `x-amz-date`: ISO 8601 basic format, `yyyyMMdd'T'HHmmss'Z'`.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A parsed SigV4 timestamp, keeping its text for the string to sign.
#[derive(Debug, Clone, Copy)]
pub struct AmzDate {
    text: [u8; 16],
    at: OffsetDateTime,
}

impl AmzDate {
    /// Parses `yyyyMMddTHHmmssZ`.
    pub fn parse(s: &str) -> Option<AmzDate> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let year = digits(0..4)? as i32;
        let month = Month::try_from(digits(4..6)? as u8).ok()?;
        let day = digits(6..8)? as u8;
        let time = Time::from_hms(digits(9..11)? as u8, digits(11..13)? as u8, digits(13..15)? as u8).ok()?;
        let date = Date::from_calendar_date(year, month, day).ok()?;
        let mut text = [0u8; 16];
        text.copy_from_slice(b);
        Some(AmzDate {
            text,
            at: PrimitiveDateTime::new(date, time).assume_utc(),
        })
    }

    /// Formats a time as an `AmzDate` (sub-second part dropped).
    pub fn from_time(t: OffsetDateTime) -> AmzDate {
        let t = t.to_offset(time::UtcOffset::UTC);
        let s = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        // The string above is always in the accepted shape.
        AmzDate::parse(&s).unwrap_or_else(|| unreachable!("formatted AmzDate {s} must parse"))
    }

    /// The full timestamp text.
    pub fn as_str(&self) -> &str {
        // Checked ASCII in `parse`.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The `yyyymmdd` part, as used in the credential scope.
    pub fn date_str(&self) -> &str {
        &self.as_str()[..8]
    }

    /// The instant.
    pub fn time(&self) -> OffsetDateTime {
        self.at
    }
}

/// Formats an instant as S3 does in error bodies (`2013-05-25T00:00:00Z`).
pub fn iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let d = AmzDate::parse("20130524T000000Z").unwrap();
        assert_eq!(d.date_str(), "20130524");
        assert_eq!(d.time().unix_timestamp(), 1_369_353_600);
        for bad in [
            "20130524T000000",
            "2013052T0000000Z",
            "20131324T000000Z",
            "20130524T250000Z",
            "2013O524T000000Z",
            "+0130524T000000Z",
        ] {
            assert!(AmzDate::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(AmzDate::from_time(d.time()).as_str(), "20130524T000000Z");
        assert_eq!(iso8601(d.time()), "2013-05-24T00:00:00Z");
    }
}
