//! Restrictions signed into a URL: `x-guestpass-*` query parameters that `guestpass
//! presign` adds. SigV4 signs every query parameter, so removing or changing one breaks
//! the signature; the gateway enforces them and strips them before the upstream request.
//! An `x-guestpass-*` parameter it does not know is refused, never ignored.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

use crate::config::ByteSize;
use crate::response::{GatewayError, S3ErrorCode};

use super::rules::{TypePattern, UploadLimits};

/// Prefix of every restriction parameter.
pub const PREFIX: &str = "x-guestpass-";
/// Largest upload size.
pub const MAX_SIZE: &str = "x-guestpass-max-size";
/// Smallest upload size.
pub const MIN_SIZE: &str = "x-guestpass-min-size";
/// Allowed Content-Type (exact or `type/*`), comma-separated for several.
pub const CONTENT_TYPE: &str = "x-guestpass-content-type";
/// Allowed client address range (CIDR), comma-separated for several.
pub const IP: &str = "x-guestpass-ip";
/// Not a restriction: the id of the issuance that made the URL (issuing API), signed so
/// each use can be tied to who issued it.
pub const ISSUANCE: &str = "x-guestpass-issuance";

/// The restrictions one request's URL carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restrictions {
    /// Upload limits.
    pub limits: UploadLimits,
    /// Allowed client ranges (empty: any).
    pub ip_ranges: Vec<IpNet>,
    /// The issuance id, when the URL came from the issuing API.
    pub issuance: Option<String>,
}

fn bad(name: &str, why: &str) -> GatewayError {
    GatewayError::auth(
        S3ErrorCode::InvalidArgument,
        format!("Signed restriction {name}: {why}"),
    )
    .with_detail("ArgumentName", name.to_owned())
}

impl Restrictions {
    /// Removes every `x-guestpass-*` parameter from `query` and parses it.
    pub fn extract(query: &mut Vec<(String, String)>) -> Result<Restrictions, GatewayError> {
        let mut r = Restrictions::default();
        let mut seen: Vec<String> = Vec::new();
        let mut err = None;
        query.retain(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            if !lower.starts_with(PREFIX) {
                return true;
            }
            if err.is_none() {
                if seen.contains(&lower) {
                    err = Some(bad(name, "given more than once"));
                } else if let Err(e) = r.apply(&lower, value) {
                    err = Some(e);
                }
                seen.push(lower);
            }
            false
        });
        match err {
            Some(e) => Err(e),
            None => Ok(r),
        }
    }

    fn apply(&mut self, name: &str, value: &str) -> Result<(), GatewayError> {
        match name {
            MAX_SIZE => {
                self.limits.max_size = Some(value.parse::<ByteSize>().map_err(|e| bad(name, &e))?.0);
                self.limits.max_part_size = self.limits.max_size;
            }
            MIN_SIZE => self.limits.min_size = Some(value.parse::<ByteSize>().map_err(|e| bad(name, &e))?.0),
            CONTENT_TYPE => {
                let patterns: Vec<TypePattern> = value
                    .split(',')
                    .filter(|t| !t.trim().is_empty())
                    .map(TypePattern::new)
                    .collect();
                if patterns.is_empty() {
                    return Err(bad(name, "empty"));
                }
                self.limits.content_types.push(patterns);
                self.limits.require_content_type = true;
            }
            IP => {
                for range in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                    let net = range
                        .parse::<IpNet>()
                        .or_else(|_| range.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| bad(name, "not an address or CIDR range"))?;
                    self.ip_ranges.push(net);
                }
                if self.ip_ranges.is_empty() {
                    return Err(bad(name, "empty"));
                }
            }
            ISSUANCE => {
                if value.is_empty()
                    || value.len() > 64
                    || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(bad(name, "must be 1 to 64 characters of A-Z a-z 0-9 -"));
                }
                self.issuance = Some(value.to_owned());
            }
            _ => {
                return Err(bad(
                    name,
                    "unknown restriction; this gateway does not know how to enforce it",
                ))
            }
        }
        Ok(())
    }

    /// Whether any restriction (or issuance label) is present.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.ip_ranges.is_empty() && self.issuance.is_none()
    }

    /// Checks the client address.
    pub fn check_ip(&self, client: IpAddr) -> Result<(), GatewayError> {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(client),
            v4 => v4,
        };
        if self.ip_ranges.is_empty() || self.ip_ranges.iter().any(|n| n.contains(&client)) {
            Ok(())
        } else {
            Err(GatewayError::policy(
                S3ErrorCode::AccessDenied,
                "This URL may not be used from your network address.",
            ))
        }
    }

    /// The query parameters that express these restrictions (for `presign`).
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(m) = self.limits.max_size {
            q.push((MAX_SIZE, m.to_string()));
        }
        if let Some(m) = self.limits.min_size {
            q.push((MIN_SIZE, m.to_string()));
        }
        for list in &self.limits.content_types {
            q.push((
                CONTENT_TYPE,
                list.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","),
            ));
        }
        if !self.ip_ranges.is_empty() {
            q.push((
                IP,
                self.ip_ranges
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ));
        }
        if let Some(id) = &self.issuance {
            q.push((ISSUANCE, id.clone()));
        }
        q
    }
}

/// Finds the client address: the peer, or, when the peer is a trusted proxy, the
/// right-most address in the client-address header that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet], header: &str) -> IpAddr {
    if !trusted.iter().any(|n| n.contains(&peer)) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = headers
        .get_all(header)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect();
    while let Some(addr) = chain.pop() {
        if !trusted.iter().any(|n| n.contains(&addr)) {
            return addr;
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_and_strips() {
        let mut q = vec![
            ("x-id".to_owned(), "PutObject".to_owned()),
            ("x-guestpass-max-size".to_owned(), "10MiB".to_owned()),
            ("x-guestpass-content-type".to_owned(), "image/*".to_owned()),
            ("x-guestpass-ip".to_owned(), "203.0.113.0/24".to_owned()),
        ];
        let r = Restrictions::extract(&mut q).unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(r.limits.max_size, Some(10 << 20));
        r.check_ip("203.0.113.9".parse().unwrap()).unwrap();
        r.check_ip("::ffff:203.0.113.9".parse().unwrap()).unwrap();
        assert_eq!(
            r.check_ip("198.51.100.1".parse().unwrap()).unwrap_err().code(),
            S3ErrorCode::AccessDenied
        );
        let mut again = r.to_query().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(Restrictions::extract(&mut again).unwrap(), r);
    }

    #[test]
    fn unknown_and_duplicate_restrictions_are_refused() {
        for q in [
            vec![("x-guestpass-one-time", "1")],
            vec![("x-guestpass-ip", "10.0.0.0/8"), ("X-Guestpass-Ip", "0.0.0.0/0")],
        ] {
            let mut q = q.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            assert_eq!(
                Restrictions::extract(&mut q).unwrap_err().code(),
                S3ErrorCode::InvalidArgument
            );
        }
    }

    #[test]
    fn client_ip_behind_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "198.51.100.7, 203.0.113.5, 10.1.1.1".parse().unwrap(),
        );
        assert_eq!(
            client_ip("10.0.0.2".parse().unwrap(), &h, &trusted, "x-forwarded-for"),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip("192.0.2.1".parse().unwrap(), &h, &trusted, "x-forwarded-for"),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
