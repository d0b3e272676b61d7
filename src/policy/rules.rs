//! Upload rules: size limits and content types by bucket and key prefix.

use crate::config::UploadRuleConfig;
use crate::response::{GatewayError, S3ErrorCode};

/// A Content-Type pattern: exact (`image/png`) or a family (`image/*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypePattern(String);

impl TypePattern {
    /// A pattern from config or a signed restriction (lower-cased).
    pub fn new(p: &str) -> Self {
        TypePattern(p.trim().to_ascii_lowercase())
    }

    /// Whether `content_type` (parameters such as `; charset=` ignored) matches.
    pub fn matches(&self, content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match self.0.strip_suffix("/*") {
            Some(family) => essence
                .split_once('/')
                .is_some_and(|(t, sub)| t == family && !sub.is_empty()),
            None => essence == self.0,
        }
    }
}

impl std::fmt::Display for TypePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an upload must satisfy: the merge of a config rule and signed restrictions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest size.
    pub max_size: Option<u64>,
    /// Smallest size.
    pub min_size: Option<u64>,
    /// Allowed types (empty: any). Every list given must match.
    pub content_types: Vec<Vec<TypePattern>>,
    /// Content-Type must be present.
    pub require_content_type: bool,
    /// Largest multipart part.
    pub max_part_size: Option<u64>,
    /// Highest part number.
    pub max_parts: Option<u32>,
}

impl UploadLimits {
    /// Whether nothing is limited.
    pub fn is_empty(&self) -> bool {
        *self == UploadLimits::default()
    }

    /// Narrows these limits by `other` (both must hold).
    pub fn and(mut self, other: &UploadLimits) -> UploadLimits {
        let min_opt = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_size = min_opt(self.max_size, other.max_size);
        self.min_size = match (self.min_size, other.min_size) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.content_types.extend(other.content_types.iter().cloned());
        self.require_content_type |= other.require_content_type;
        self.max_part_size = min_opt(self.max_part_size, other.max_part_size);
        self.max_parts = match (self.max_parts, other.max_parts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self
    }

    /// Checks a whole-object size before any byte goes upstream.
    pub fn check_size(&self, size: u64) -> Result<(), GatewayError> {
        if let Some(max) = self.max_size {
            if size > max {
                return Err(too_large(size, max));
            }
        }
        if let Some(min) = self.min_size {
            if size < min {
                return Err(GatewayError::policy(
                    S3ErrorCode::EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed object size.",
                )
                .with_detail("ProposedSize", size.to_string())
                .with_detail("MinSizeAllowed", min.to_string()));
            }
        }
        Ok(())
    }

    /// Checks the Content-Type of an upload.
    pub fn check_content_type(&self, content_type: Option<&str>) -> Result<(), GatewayError> {
        let ct = match content_type {
            Some(ct) if !ct.trim().is_empty() => ct,
            _ if self.require_content_type || !self.content_types.is_empty() => {
                return Err(GatewayError::policy(
                    S3ErrorCode::AccessDenied,
                    "This upload must carry a Content-Type.",
                ));
            }
            _ => return Ok(()),
        };
        for allowed in &self.content_types {
            if !allowed.iter().any(|p| p.matches(ct)) {
                let list: Vec<String> = allowed.iter().map(|p| p.to_string()).collect();
                return Err(GatewayError::policy(
                    S3ErrorCode::AccessDenied,
                    format!("Content-Type {ct:?} is not allowed here; allowed: {}", list.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

/// `EntityTooLarge` with S3's detail elements.
pub fn too_large(size: u64, max: u64) -> GatewayError {
    GatewayError::policy(
        S3ErrorCode::EntityTooLarge,
        "Your proposed upload exceeds the maximum allowed object size.",
    )
    .with_detail("ProposedSize", size.to_string())
    .with_detail("MaxSizeAllowed", max.to_string())
}

/// The configured rules.
#[derive(Debug, Clone, Default)]
pub struct UploadRules {
    rules: Vec<(String, String, UploadLimits)>,
}

impl UploadRules {
    /// Rules from config.
    pub fn new(rules: &[UploadRuleConfig]) -> Self {
        UploadRules {
            rules: rules
                .iter()
                .map(|r| {
                    let limits = UploadLimits {
                        max_size: r.max_size.map(|s| s.0),
                        min_size: r.min_size.map(|s| s.0),
                        content_types: if r.content_types.is_empty() {
                            Vec::new()
                        } else {
                            vec![r.content_types.iter().map(|t| TypePattern::new(t)).collect()]
                        },
                        require_content_type: r.require_content_type,
                        max_part_size: r.max_part_size.map(|s| s.0).or(r.max_size.map(|s| s.0)),
                        max_parts: r.max_parts,
                    };
                    (r.bucket.clone(), r.prefix.clone(), limits)
                })
                .collect(),
        }
    }

    /// The limits for `key` in `bucket`: the rule with the longest matching prefix (an
    /// exact bucket beats `*` at equal length).
    pub fn for_key(&self, bucket: &str, key: &str) -> UploadLimits {
        self.rules
            .iter()
            .filter(|(b, p, _)| (b == "*" || b == bucket) && key.starts_with(p.as_str()))
            .max_by_key(|(b, p, _)| (p.len(), b != "*"))
            .map(|(_, _, l)| l.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_patterns() {
        assert!(TypePattern::new("image/*").matches("image/png"));
        assert!(TypePattern::new("image/*").matches("Image/JPEG; q=1"));
        assert!(!TypePattern::new("image/*").matches("imagex/png"));
        assert!(!TypePattern::new("image/*").matches("image/"));
        assert!(TypePattern::new("text/plain").matches("text/plain; charset=utf-8"));
        assert!(!TypePattern::new("text/plain").matches("text/plainx"));
    }

    #[test]
    fn longest_prefix_wins() {
        let toml = r#"
            [[rules]]
            bucket = "*"
            max_size = "1MiB"
            [[rules]]
            bucket = "photos"
            prefix = "avatars/"
            max_size = "10MiB"
            content_types = ["image/*"]
        "#;
        #[derive(serde::Deserialize)]
        struct R {
            rules: Vec<UploadRuleConfig>,
        }
        let r: R = toml::from_str(toml).unwrap();
        let rules = UploadRules::new(&r.rules);
        assert_eq!(rules.for_key("photos", "avatars/me.png").max_size, Some(10 << 20));
        assert_eq!(rules.for_key("photos", "other").max_size, Some(1 << 20));
        let l = rules.for_key("photos", "avatars/me.png");
        assert_eq!(l.check_size(11 << 20).unwrap_err().code(), S3ErrorCode::EntityTooLarge);
        assert_eq!(
            l.check_content_type(Some("text/html")).unwrap_err().code(),
            S3ErrorCode::AccessDenied
        );
        assert_eq!(
            l.check_content_type(None).unwrap_err().code(),
            S3ErrorCode::AccessDenied
        );
        l.check_content_type(Some("image/webp")).unwrap();
    }
}
