//! Byte sizes written the way people write them: "10MiB", "1 KiB", "500".

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A byte count parsed by `bytesize` ("10MiB", "1KB", "4096").
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.trim()
            .parse::<bytesize::ByteSize>()
            .map(|b| ByteSize(b.as_u64()))
            .map_err(|e| format!("{s:?} is not a size such as 512, 1KiB or 10MiB: {e}"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", bytesize::ByteSize(self.0).display().iec())
    }
}

impl fmt::Debug for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} B", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!("10MiB".parse::<ByteSize>().unwrap().0, 10 * 1024 * 1024);
        assert_eq!("1 KiB".parse::<ByteSize>().unwrap().0, 1024);
        assert_eq!("1KB".parse::<ByteSize>().unwrap().0, 1000);
        assert_eq!("512".parse::<ByteSize>().unwrap().0, 512);
        assert!("lots".parse::<ByteSize>().is_err());
    }
}
