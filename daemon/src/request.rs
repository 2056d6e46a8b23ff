//! Request helpers: the request's view of the hub, raw path segments, repeated query keys,
//! bounded bodies.

use axum::body::Body;
use futures_util::TryStreamExt;
use kohaku::{Error, Hub, Result};
use percent_encoding::percent_decode_str;
use tokio_util::io::StreamReader;

/// The host a request was sent to: the URI's authority (HTTP/2 `:authority`, absolute-form
/// requests), else the `Host` header. Bytes that are not ASCII become U+FFFD, which no valid
/// host contains.
pub fn request_host(parts: &axum::http::request::Parts) -> Option<String> {
    if let Some(a) = parts.uri.authority() {
        return Some(a.as_str().to_string());
    }
    parts
        .headers
        .get(axum::http::header::HOST)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The hub as this request sees it ([`Hub::for_request`]): what it hands out carries the
/// request's public URL. Every handler that hands out URLs takes the hub through this (or
/// through `Ctx`, built from it), so that rule is applied in one place.
pub struct ReqHub(pub Hub);

impl axum::extract::FromRequestParts<Hub> for ReqHub {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        hub: &Hub,
    ) -> std::result::Result<Self, Self::Rejection> {
        Ok(ReqHub(hub.for_request(request_host(parts).as_deref())?))
    }
}

/// Percent-decode one raw path segment (so `refs%2Fpr%2F1` stays one segment).
pub fn decode_segment(raw: &str) -> Result<String> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::bad_request("Path is not valid UTF-8"))
}

/// The raw path split into decoded segments (empty segments dropped except the last).
pub fn segments(path: &str) -> Result<Vec<String>> {
    path.trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode_segment)
        .collect()
}

/// `scheme://host[:port]` of an absolute http(s) URL, lowercased and without a default port:
/// the form browsers send in `Origin`. `None` for anything else (`Origin: null` included).
pub fn origin(url: &str) -> Option<String> {
    let uri: axum::http::Uri = url.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    Some(match authority.port_u16() {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// Whether the body has a type a cross-site HTML form (or a `no-cors` fetch) can send
/// without a CORS preflight: `application/x-www-form-urlencoded`, `multipart/form-data`,
/// `text/plain`.
pub fn form_type_body(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::CONTENT_TYPE)
        .iter()
        .any(|v| {
            let v = String::from_utf8_lossy(v.as_bytes());
            let media = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            matches!(
                media.as_str(),
                "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
            )
        })
}

/// Characters escaped in query keys and values (RFC 3986 unreserved ones stay as they are).
/// Larger than any list a hub holds, small enough that `cursor + limit` fits an `i64`.
const MAX_CURSOR: u64 = 1 << 48;

const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Query string parsed keeping repeated keys in order.
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let Some(q) = q else { return Query::default() };
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    let dec = |s: &str| {
                        percent_decode_str(&s.replace('+', " "))
                            .decode_utf8_lossy()
                            .into_owned()
                    };
                    (dec(k), dec(v))
                })
                .collect(),
        )
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "True" | ""))
    }
    pub fn u64(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| Error::bad_request(format!("Invalid value for '{key}': {v}"))),
        }
    }
    /// The `cursor` of a paginated list: an offset, capped so that SQL (signed 64-bit) and the
    /// next page's `cursor + limit` cannot overflow whatever a caller sends.
    pub fn cursor(&self) -> Result<u64> {
        Ok(self.u64("cursor")?.unwrap_or(0).min(MAX_CURSOR))
    }
    /// Encode back, replacing/adding `key=value` (for `Link` next URLs).
    pub fn with(&self, key: &str, value: &str) -> String {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string();
        let mut parts: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k != key)
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        parts.push(format!("{}={}", enc(key), enc(value)));
        parts.join("&")
    }
}

/// Whole body, refusing more than `max` bytes with 413.
pub async fn read_body(body: Body, max: usize) -> Result<bytes::Bytes> {
    axum::body::to_bytes(body, max).await.map_err(|e| {
        Error::PayloadTooLarge(format!(
            "Request body too large or unreadable (limit {max} bytes): {e}"
        ))
    })
}

/// Whole body of at most `max` bytes. A larger body is read to its end (up to `drain`
/// bytes) before the 413, so the client finishes sending and sees the answer instead of a
/// reset connection.
pub async fn read_body_draining(body: Body, max: usize, drain: usize) -> Result<bytes::Bytes> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| Error::bad_request(format!("Error reading request body: {e}")))?;
        seen += chunk.len();
        if seen <= max {
            buf.extend_from_slice(&chunk);
        } else if seen > drain {
            break;
        }
    }
    if seen > max {
        return Err(Error::PayloadTooLarge(format!(
            "Request body larger than {max} bytes"
        )));
    }
    Ok(buf.freeze())
}

/// Read what is left of a body and drop it (bounded), after refusing a request early.
pub async fn drain<R: tokio::io::AsyncRead + Unpin>(reader: &mut R, cap: u64) {
    let _ = tokio::io::copy(
        &mut tokio::io::AsyncReadExt::take(reader, cap),
        &mut tokio::io::sink(),
    )
    .await;
}

/// Parse a JSON body of at most `max` bytes.
pub async fn read_json<T: serde::de::DeserializeOwned>(body: Body, max: usize) -> Result<T> {
    let bytes = read_body(body, max).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::bad_request(format!("Invalid JSON body: {e}")))
}

/// The body as an `AsyncRead`, for streaming.
pub fn body_reader(body: Body) -> impl tokio::io::AsyncBufRead + Unpin + Send {
    StreamReader::new(body.into_data_stream().map_err(std::io::Error::other))
}

/// Bound a streamed body to `max` bytes: beyond it the read fails (and the request with it).
pub fn limited_reader<R: tokio::io::AsyncBufRead + Unpin>(r: R, max: u64) -> LimitedReader<R> {
    LimitedReader {
        inner: r,
        left: max,
    }
}

/// See [`limited_reader`].
pub struct LimitedReader<R> {
    inner: R,
    left: u64,
}

impl<R: tokio::io::AsyncBufRead + Unpin> tokio::io::AsyncRead for LimitedReader<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &r {
            let n = (buf.filled().len() - before) as u64;
            if n > self.left {
                return std::task::Poll::Ready(Err(std::io::Error::other(
                    "request body too large",
                )));
            }
            self.left -= n;
        }
        r
    }
}

impl<R: tokio::io::AsyncBufRead + Unpin> tokio::io::AsyncBufRead for LimitedReader<R> {
    fn poll_fill_buf(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<&[u8]>> {
        let this = self.get_mut();
        let left = this.left;
        match std::pin::Pin::new(&mut this.inner).poll_fill_buf(cx) {
            std::task::Poll::Ready(Ok(b))
                if b.len() as u64 > left && left == 0 && !b.is_empty() =>
            {
                std::task::Poll::Ready(Err(std::io::Error::other("request body too large")))
            }
            other => other,
        }
    }
    fn consume(self: std::pin::Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.left = this.left.saturating_sub(amt as u64);
        std::pin::Pin::new(&mut this.inner).consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_like_browsers_write_them() {
        assert_eq!(
            origin("http://Hub.Example:80/x?y").as_deref(),
            Some("http://hub.example")
        );
        assert_eq!(
            origin("https://hub.example:443").as_deref(),
            Some("https://hub.example")
        );
        assert_eq!(
            origin("https://hub.example:8443/").as_deref(),
            Some("https://hub.example:8443")
        );
        assert_eq!(
            origin("http://127.0.0.1:5000").as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(origin("null"), None);
        assert_eq!(origin("ftp://hub.example"), None);
        assert_eq!(origin("http://user@hub.example"), None);
        assert_eq!(origin(""), None);
    }

    #[test]
    fn form_types_are_recognised() {
        let with = |ct: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert("content-type", ct.parse().unwrap());
            form_type_body(&h)
        };
        assert!(with("text/plain"));
        assert!(with("Text/Plain; charset=UTF-8"));
        assert!(with("multipart/form-data; boundary=x"));
        assert!(with("application/x-www-form-urlencoded"));
        assert!(!with("application/json"));
        assert!(!with("application/x-ndjson"));
        assert!(!form_type_body(&axum::http::HeaderMap::new()));
    }
}
