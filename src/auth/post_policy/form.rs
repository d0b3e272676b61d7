//! Reading a POST form as a stream (multer). Fields before the file are read into memory
//! under small limits; the file part is never buffered: it is handed on as a body of
//! exactly the length derived from the request's Content-Length and the form layout
//! (`Content-Length - bytes before the file data - "\r\n--<boundary>--\r\n"`). If the
//! file turns out longer or shorter than that, the body fails before its last byte, so
//! the upstream never commits an object.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyDataStream;
use multer::{Field, Multipart};

use crate::auth::body::BodyVerdict;
use crate::response::{BoxError, GatewayBody, GatewayError, S3ErrorCode};

/// Most bytes of form fields (everything before the file) read into memory.
pub const MAX_FIELDS_BYTES: usize = 256 * 1024;
/// Most fields before the file.
pub const MAX_FIELDS: usize = 128;

fn malformed(why: impl Into<std::borrow::Cow<'static, str>>) -> GatewayError {
    GatewayError::client(S3ErrorCode::MalformedPOSTRequest, why)
}

/// Copies what the parser reads, until the file data starts, so the offset of the file
/// data in the request can be found.
///
/// It also hands the parser one frame per poll: multer keeps reading its input for as
/// long as the input is ready, so against a fast client it would pull whatever sits in
/// the socket buffer (tens of MiB) into memory on every poll. Yielding after each frame
/// keeps its buffer to one frame and lets backpressure reach the client.
struct Recorder<S> {
    inner: S,
    seen: Arc<Mutex<Vec<u8>>>,
    recording: Arc<AtomicBool>,
    yielded: bool,
}

impl<S> Stream for Recorder<S>
where
    S: Stream<Item = Result<Bytes, BoxError>> + Unpin,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.yielded {
            self.yielded = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(data))) = &polled {
            self.yielded = true;
            if self.recording.load(Ordering::Relaxed) {
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                if seen.len() <= MAX_FIELDS_BYTES * 2 {
                    seen.extend_from_slice(data);
                }
            }
        }
        polled
    }
}

/// A parsed form up to its file.
pub struct PostForm {
    /// Fields before the file: lower-case names, values, in order.
    pub fields: Vec<(String, String)>,
    /// The file part's filename.
    pub file_name: String,
    /// The file part's Content-Type.
    pub file_content_type: Option<String>,
    /// The file's exact length, when the request's Content-Length allows deriving it.
    pub file_len: Option<u64>,
    field: Field<'static>,
    multipart: Multipart<'static>,
}

impl std::fmt::Debug for PostForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.fields.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("PostForm")
            .field("fields", &names)
            .field("file_len", &self.file_len)
            .finish_non_exhaustive()
    }
}

/// The position just after the `n`-th (1-based) part's headers in `raw`.
fn data_start(raw: &[u8], boundary: &str, n: usize) -> Option<usize> {
    let first = format!("--{boundary}\r\n");
    let delim = format!("\r\n--{boundary}\r\n");
    let mut pos = if raw.starts_with(first.as_bytes()) {
        first.len()
    } else {
        raw.windows(delim.len()).position(|w| w == delim.as_bytes())? + delim.len()
    };
    for _ in 1..n {
        pos += raw[pos..].windows(delim.len()).position(|w| w == delim.as_bytes())? + delim.len();
    }
    Some(pos + raw[pos..].windows(4).position(|w| w == b"\r\n\r\n")? + 4)
}

/// Reads the form's fields up to the file part.
pub async fn read_form(
    body: GatewayBody,
    content_type: &str,
    content_length: Option<u64>,
) -> Result<PostForm, GatewayError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| malformed("The Content-Type must be multipart/form-data with a boundary."))?;
    let seen = Arc::new(Mutex::new(Vec::with_capacity(8 * 1024)));
    let recording = Arc::new(AtomicBool::new(true));
    let stream = Recorder {
        inner: BodyDataStream::new(body),
        seen: seen.clone(),
        recording: recording.clone(),
        yielded: false,
    };
    let mut multipart = Multipart::new(stream, boundary.clone());
    let mut fields = Vec::new();
    let mut total = 0usize;
    loop {
        let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| malformed(format!("The form could not be read: {e}")))?
        else {
            return Err(GatewayError::client(
                S3ErrorCode::InvalidArgument,
                "POST requires exactly one file upload per request.",
            )
            .with_detail("ArgumentName", "file"));
        };
        let name = field.name().unwrap_or("").to_ascii_lowercase();
        if name == "file" {
            recording.store(false, Ordering::Relaxed);
            let file_len = match content_length {
                Some(total_len) => {
                    let raw = seen.lock().unwrap_or_else(|p| p.into_inner());
                    let start = data_start(&raw, &boundary, fields.len() + 1)
                        .ok_or_else(|| malformed("The form's file part could not be located."))?;
                    let epilogue = 2 + 2 + boundary.len() + 2 + 2;
                    (total_len as usize).checked_sub(start + epilogue).map(|n| n as u64)
                }
                None => None,
            };
            return Ok(PostForm {
                fields,
                file_name: field.file_name().unwrap_or("").to_owned(),
                file_content_type: field.content_type().map(|m| m.to_string()),
                file_len,
                field,
                multipart,
            });
        }
        if fields.len() >= MAX_FIELDS {
            return Err(malformed("The form has too many fields."));
        }
        let mut value = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| malformed(format!("The form could not be read: {e}")))?
        {
            total += chunk.len();
            if total > MAX_FIELDS_BYTES {
                return Err(GatewayError::client(
                    S3ErrorCode::MaxMessageLengthExceeded,
                    "The form fields before the file are too large.",
                ));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| malformed(format!("Form field {name} is not UTF-8.")))?;
        if fields.iter().any(|(n, _)| *n == name) {
            return Err(malformed(format!("Form field {name} appears more than once.")));
        }
        fields.push((name, value));
    }
}

impl PostForm {
    /// The value of a field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Reads away the rest of a refused form (up to 8 MiB and 5 s) so the client sees the
    /// answer instead of a reset connection. Whether it reached the end.
    pub async fn drain(mut self) -> bool {
        let mut read = 0usize;
        let reading = async {
            // The file, then whatever parts follow, then the closing boundary: everything
            // the client sends, so closing leaves nothing unread (which would reset the
            // connection and lose the answer).
            let mut field = Some(self.field);
            while let Some(mut f) = field.take() {
                loop {
                    match f.chunk().await {
                        Ok(Some(c)) => {
                            read += c.len();
                            if read > 8 << 20 {
                                return false;
                            }
                        }
                        Ok(None) => break,
                        Err(_) => return false,
                    }
                }
                match self.multipart.next_field().await {
                    Ok(next) => field = next,
                    Err(_) => return false,
                }
            }
            true
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), reading)
            .await
            .unwrap_or(false)
    }

    /// Turns the file part into a body of exactly `len` bytes.
    pub fn into_file_body(self, len: u64, verdict: BodyVerdict) -> FileBody {
        FileBody {
            field: Mutex::new(self.field),
            expected: len,
            seen: 0,
            held: None,
            verdict,
            done: false,
        }
    }
}

/// The file part as a body that must come to exactly the derived length.
pub struct FileBody {
    field: Mutex<Field<'static>>,
    expected: u64,
    seen: u64,
    held: Option<Bytes>,
    verdict: BodyVerdict,
    done: bool,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(this.held.take().map(|b| Ok(Frame::data(b))));
            }
            let polled = {
                let mut field = this.field.lock().unwrap_or_else(|p| p.into_inner());
                Pin::new(&mut *field).poll_next(cx)
            };
            match polled {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    this.held = None;
                    let err = malformed(format!("The form's file part could not be read: {e}"));
                    return Poll::Ready(Some(Err(this.verdict.refuse(err))));
                }
                Poll::Ready(Some(Ok(data))) => {
                    this.seen += data.len() as u64;
                    if this.seen > this.expected {
                        this.done = true;
                        this.held = None;
                        let err = malformed("The file is longer than the form's Content-Length allows; fields after the file are not accepted.");
                        return Poll::Ready(Some(Err(this.verdict.refuse(err))));
                    }
                    if let Some(prev) = this.held.replace(data) {
                        return Poll::Ready(Some(Ok(Frame::data(prev))));
                    }
                }
                Poll::Ready(None) => {
                    this.done = true;
                    if this.seen != this.expected {
                        this.held = None;
                        let err = malformed("The form does not end right after the file with the closing boundary.");
                        return Poll::Ready(Some(Err(this.verdict.refuse(err))));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.held.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.expected.saturating_sub(self.seen) + self.held.as_ref().map_or(0, |h| h.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn form(boundary: &str, fields: &[(&str, &str)], file: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        for (k, v) in fields {
            b.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
            );
        }
        b.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n").as_bytes(),
        );
        b.extend_from_slice(file);
        b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        b
    }

    fn body(bytes: Vec<u8>, piece: usize) -> GatewayBody {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = bytes
            .chunks(piece)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        http_body_util::StreamBody::new(futures_util::stream::iter(frames)).boxed()
    }

    #[tokio::test]
    async fn derives_the_file_length_and_streams_it() {
        let file: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for piece in [1, 13, 4096, 1 << 20] {
            let bytes = form("XyZ", &[("Key", "a/${filename}"), ("policy", "p")], &file);
            let len = bytes.len() as u64;
            let f = read_form(body(bytes, piece), "multipart/form-data; boundary=XyZ", Some(len))
                .await
                .unwrap();
            assert_eq!(f.field("key"), Some("a/${filename}"));
            assert_eq!(f.file_name, "a.txt");
            assert_eq!(f.file_len, Some(file.len() as u64));
            let out = f
                .into_file_body(file.len() as u64, BodyVerdict::default())
                .collect()
                .await
                .unwrap()
                .to_bytes();
            assert_eq!(out.as_ref(), &file[..], "piece {piece}");
        }
    }

    #[tokio::test]
    async fn a_wrong_layout_never_completes_the_file() {
        let file = vec![7u8; 5000];
        let mut bytes = form("b", &[("key", "k")], &file);
        // A field after the file: the derived length no longer holds.
        let tail = bytes.split_off(bytes.len() - 7);
        bytes.extend_from_slice(b"\r\n--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nyy\r\n--b--\r\n");
        drop(tail);
        let len = bytes.len() as u64;
        let f = read_form(body(bytes, 1000), "multipart/form-data; boundary=b", Some(len))
            .await
            .unwrap();
        let derived = f.file_len.unwrap();
        assert!(derived > 5000);
        let verdict = BodyVerdict::default();
        let mut fb = f.into_file_body(derived, verdict.clone());
        let mut got = 0;
        while let Some(frame) = fb.frame().await {
            match frame {
                Ok(fr) => got += fr.into_data().unwrap().len(),
                Err(_) => break,
            }
        }
        assert!(got < 5000);
        assert_eq!(verdict.take().unwrap().code(), S3ErrorCode::MalformedPOSTRequest);
    }

    #[tokio::test]
    async fn forms_without_a_file_or_with_huge_fields_are_refused() {
        let bytes = b"--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--b--\r\n".to_vec();
        let e = read_form(body(bytes, 10), "multipart/form-data; boundary=b", None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), S3ErrorCode::InvalidArgument);
        let big = "x".repeat(MAX_FIELDS_BYTES + 1);
        let bytes = form("b", &[("key", &big)], b"f");
        let e = read_form(body(bytes, 4096), "multipart/form-data; boundary=b", None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), S3ErrorCode::MaxMessageLengthExceeded);
        let e = read_form(body(vec![], 1), "text/plain", None).await.unwrap_err();
        assert_eq!(e.code(), S3ErrorCode::MalformedPOSTRequest);
    }
}
