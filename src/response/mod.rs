//! The one error type of the request path and its S3 rendering.
//!
//! Every stage returns `GatewayError`; this module alone decides the HTTP status, the
//! S3 XML body (`<Error><Code><Message>…<RequestId><HostId></Error>`, see the Amazon S3
//! API Reference, "Error responses") and the log fields. HEAD answers carry no body.

mod error;
mod xml;

pub use error::{ErrorDetail, GatewayError, Origin, S3ErrorCode};
pub use xml::XmlWriter;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};

/// Errors a streamed body may carry (client or upstream I/O, or a verification failure).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response the gateway writes: either bytes it made itself or a
/// stream passed through from the upstream.
pub type GatewayBody = BoxBody<Bytes, BoxError>;

/// An empty body.
pub fn empty_body() -> GatewayBody {
    Empty::<Bytes>::new().map_err(|never| match never {}).boxed()
}

/// A body of bytes the gateway made.
pub fn full_body(bytes: impl Into<Bytes>) -> GatewayBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// Renders `err` as the S3 error response for a request with id `request_id`.
/// `head` requests get the status and headers but no body, as S3 does.
pub fn error_response(err: &GatewayError, request_id: &str, head: bool) -> Response<GatewayBody> {
    let status = err.status();
    let mut builder = Response::builder().status(status);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        builder = builder.header("x-amz-request-id", v);
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        builder = builder.header(header::ALLOW, "GET, HEAD, PUT, POST, DELETE, OPTIONS");
    }
    let body = if head {
        empty_body()
    } else {
        builder = builder.header(header::CONTENT_TYPE, "application/xml");
        full_body(err.to_xml(request_id))
    };
    builder.body(body).unwrap_or_else(|_| {
        // Only reachable if a header value above were invalid, which they are not; keep a
        // last-resort answer rather than a panic on the request path.
        let mut r = Response::new(empty_body());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}
