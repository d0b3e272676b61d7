//! `GatewayError`: what went wrong, whose fault it was, and the S3 code that says so.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;

use super::xml::XmlWriter;
use super::BoxError;

/// Where an error came from. Used for logs and metrics; the client sees only the S3 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The request itself was malformed (addressing, HTTP shape).
    Client,
    /// Authentication failed: who signed this, and is it still valid?
    Auth,
    /// The identity is known but may not do this.
    Policy,
    /// The upstream store could not be reached or misbehaved.
    Upstream,
    /// A bug or resource failure inside the gateway.
    Internal,
}

impl Origin {
    /// Lower-case name for log fields.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Client => "client",
            Origin::Auth => "auth",
            Origin::Policy => "policy",
            Origin::Upstream => "upstream",
            Origin::Internal => "internal",
        }
    }
}

macro_rules! s3_error_codes {
    ($($name:ident => $status:ident, $msg:literal;)*) => {
        /// The S3 error codes the gateway answers with (Amazon S3 API Reference, "List of
        /// error codes"), plus `BadGateway` and `GatewayTimeout` for upstream failures, which
        /// S3 itself has no code for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum S3ErrorCode { $($name,)* }

        impl S3ErrorCode {
            /// The code as S3 writes it in `<Code>`.
            pub fn as_str(self) -> &'static str {
                match self { $(S3ErrorCode::$name => stringify!($name),)* }
            }
            /// The HTTP status S3 answers this code with.
            pub fn status(self) -> StatusCode {
                match self { $(S3ErrorCode::$name => StatusCode::$status,)* }
            }
            /// S3's standard message for this code.
            pub fn default_message(self) -> &'static str {
                match self { $(S3ErrorCode::$name => $msg,)* }
            }
        }
    };
}

s3_error_codes! {
    AccessDenied => FORBIDDEN, "Access Denied";
    AuthorizationHeaderMalformed => BAD_REQUEST, "The authorization header is malformed.";
    AuthorizationQueryParametersError => BAD_REQUEST, "Error parsing the query-string authentication parameters.";
    BadDigest => BAD_REQUEST, "The Content-MD5 or checksum value that you specified did not match what the server received.";
    AccessForbidden => FORBIDDEN, "CORSResponse: This CORS request is not allowed.";
    BadRequest => BAD_REQUEST, "Bad Request";
    BadGateway => BAD_GATEWAY, "The upstream store sent an invalid response.";
    EntityTooLarge => BAD_REQUEST, "Your proposed upload exceeds the maximum allowed object size.";
    EntityTooSmall => BAD_REQUEST, "Your proposed upload is smaller than the minimum allowed object size.";
    ExpiredToken => BAD_REQUEST, "The provided token has expired.";
    GatewayTimeout => GATEWAY_TIMEOUT, "The upstream store did not answer in time.";
    IncompleteBody => BAD_REQUEST, "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    IncorrectNumberOfFilesInPostRequest => BAD_REQUEST, "POST requires exactly one file upload per request.";
    InternalError => INTERNAL_SERVER_ERROR, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId => FORBIDDEN, "The AWS access key ID you provided does not exist in our records.";
    InvalidArgument => BAD_REQUEST, "Invalid Argument";
    InvalidBucketName => BAD_REQUEST, "The specified bucket is not valid.";
    InvalidDigest => BAD_REQUEST, "The Content-MD5 or checksum value that you specified is not valid.";
    InvalidPolicyDocument => BAD_REQUEST, "The content of the form does not meet the conditions specified in the policy document.";
    InvalidRequest => BAD_REQUEST, "Invalid Request";
    InvalidToken => BAD_REQUEST, "The provided token is malformed or otherwise invalid.";
    InvalidURI => BAD_REQUEST, "Couldn't parse the specified URI.";
    KeyTooLongError => BAD_REQUEST, "Your key is too long.";
    MalformedPOSTRequest => BAD_REQUEST, "The body of your POST request is not well-formed multipart/form-data.";
    MaxMessageLengthExceeded => BAD_REQUEST, "Your request was too big.";
    MethodNotAllowed => METHOD_NOT_ALLOWED, "The specified method is not allowed against this resource.";
    MissingContentLength => LENGTH_REQUIRED, "You must provide the Content-Length HTTP header.";
    MissingSecurityHeader => BAD_REQUEST, "Your request is missing a required header.";
    NotImplemented => NOT_IMPLEMENTED, "A header you provided implies functionality that is not implemented.";
    RequestHeaderSectionTooLarge => BAD_REQUEST, "Your request header section exceeds the maximum allowed size.";
    RequestTimeTooSkewed => FORBIDDEN, "The difference between the request time and the server's time is too large.";
    RequestTimeout => BAD_REQUEST, "Your socket connection to the server was not read from or written to within the timeout period.";
    ServiceUnavailable => SERVICE_UNAVAILABLE, "Please reduce your request rate.";
    UriTooLong => URI_TOO_LONG, "The request URI is longer than this gateway accepts.";
    SignatureDoesNotMatch => FORBIDDEN, "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
    XAmzContentSHA256Mismatch => BAD_REQUEST, "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

/// One extra element of an S3 error body, such as `<Expires>` or `<StringToSign>`.
#[derive(Debug, Clone)]
pub struct ErrorDetail {
    /// Element name.
    pub name: &'static str,
    /// Element text (escaped when rendered).
    pub value: String,
}

/// The error of the request path. Built by the stages, rendered only by `response/`.
pub struct GatewayError {
    code: S3ErrorCode,
    message: Cow<'static, str>,
    origin: Origin,
    details: Vec<ErrorDetail>,
    source: Option<BoxError>,
}

impl GatewayError {
    /// An error with S3's standard message for `code`.
    pub fn new(code: S3ErrorCode, origin: Origin) -> Self {
        GatewayError {
            code,
            message: Cow::Borrowed(code.default_message()),
            origin,
            details: Vec::new(),
            source: None,
        }
    }

    /// An authentication failure with its own message.
    pub fn auth(code: S3ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(code, Origin::Auth).with_message(message)
    }

    /// A malformed request with its own message.
    pub fn client(code: S3ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(code, Origin::Client).with_message(message)
    }

    /// A policy refusal with its own message.
    pub fn policy(code: S3ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(code, Origin::Policy).with_message(message)
    }

    /// An upstream failure; `source` is logged, never shown to the client.
    pub fn upstream(code: S3ErrorCode, message: impl Into<Cow<'static, str>>, source: impl Into<BoxError>) -> Self {
        let mut e = Self::new(code, Origin::Upstream).with_message(message);
        e.source = Some(source.into());
        e
    }

    /// An internal failure; `source` is logged, never shown to the client.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        let mut e = Self::new(S3ErrorCode::InternalError, Origin::Internal);
        e.source = Some(source.into());
        e
    }

    /// Replaces the message.
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    /// Adds an element to the XML body.
    pub fn with_detail(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push(ErrorDetail {
            name,
            value: value.into(),
        });
        self
    }

    /// The S3 code.
    pub fn code(&self) -> S3ErrorCode {
        self.code
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the error came from.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Extra elements of the XML body.
    pub fn details(&self) -> &[ErrorDetail] {
        &self.details
    }

    /// The value of one extra element, if present.
    pub fn detail(&self, name: &str) -> Option<&str> {
        self.details.iter().find(|d| d.name == name).map(|d| d.value.as_str())
    }

    /// Drops the detail elements named in `names` (used to hide debugging aids).
    pub fn without_details(mut self, names: &[&str]) -> Self {
        self.details.retain(|d| !names.contains(&d.name));
        self
    }

    /// HTTP status for this error, decided here and nowhere else.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The S3 XML error document.
    pub fn to_xml(&self, request_id: &str) -> String {
        let mut w = XmlWriter::new();
        w.open("Error")
            .element("Code", self.code.as_str())
            .element("Message", &self.message);
        for d in &self.details {
            w.element(d.name, &d.value);
        }
        w.element("RequestId", request_id)
            .element("HostId", request_id)
            .close("Error");
        w.finish()
    }
}

impl fmt::Debug for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Details may carry a canonical request: useful to the client that signed it, noise
        // in a log. The source is printed because it explains upstream/internal failures.
        f.debug_struct("GatewayError")
            .field("code", &self.code.as_str())
            .field("origin", &self.origin)
            .field("message", &self.message)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if let Some(s) = &self.source {
            write!(f, " ({s})")?;
        }
        Ok(())
    }
}

impl std::error::Error for GatewayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_s3_xml_with_details() {
        let e = GatewayError::auth(S3ErrorCode::AccessDenied, "Request has expired")
            .with_detail("Expires", "2013-05-25T00:00:00Z");
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        let xml = e.to_xml("ABC");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>\
             <Message>Request has expired</Message><Expires>2013-05-25T00:00:00Z</Expires>\
             <RequestId>ABC</RequestId><HostId>ABC</HostId></Error>"
        );
    }

    #[test]
    fn statuses_follow_s3() {
        assert_eq!(S3ErrorCode::SignatureDoesNotMatch.status(), 403);
        assert_eq!(S3ErrorCode::AuthorizationQueryParametersError.status(), 400);
        assert_eq!(S3ErrorCode::InvalidAccessKeyId.status(), 403);
        assert_eq!(S3ErrorCode::MethodNotAllowed.status(), 405);
        assert_eq!(S3ErrorCode::ServiceUnavailable.status(), 503);
    }
}
