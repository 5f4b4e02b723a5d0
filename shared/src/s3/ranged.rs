//! Reading a large object with parallel ranged GETs. One GET stream is slower than the converter (roughly
//! 90 MB/s in Lambda), so a large object is read as parts of `part_size` bytes, `concurrency` of them in flight,
//! handed on in order. Memory is bounded: at most `concurrency` parts are held, plus the one being read. Every
//! part is read while the object's ETag is the first answer's (`If-Match`), so parts of two versions are never
//! stitched together, and a part cut mid-way resumes from the byte it stopped at.

use super::{ObjectStream, get_ranged, get_stream, target};
use crate::aws::AwsError;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::io;

/// How a large object is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranges {
    /// Bytes per ranged GET.
    pub part_size: u64,
    /// Ranged GETs in flight at once; 1 reads the object as one stream.
    pub concurrency: usize,
}

impl Default for Ranges {
    fn default() -> Self {
        Self {
            part_size: 8 * 1024 * 1024,
            concurrency: 4,
        }
    }
}

/// An object opened for reading: its identity, and whether its first answer covers only the first part (then
/// [`ranged_body`] fetches the rest).
#[derive(Debug)]
pub struct Opened {
    pub object: ObjectStream,
    /// The first GET asked for (and got) the first part only.
    pub partial: bool,
}

/// Opens `key`: with parallel ranges, a GET of the first part, whose answer names the object's whole size
/// (Content-Range), ETag and Last-Modified; otherwise (or for an empty object, which has no first byte to ask
/// for) a plain GET.
pub async fn open(
    client: &Client,
    bucket: &str,
    key: &str,
    ranges: Ranges,
) -> Result<Opened, AwsError> {
    if ranges.concurrency <= 1 {
        return whole(client, bucket, key).await;
    }
    let answer = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .range(format!("bytes=0-{}", ranges.part_size.max(1) - 1))
        .send()
        .await;
    let out = match answer {
        Ok(out) => out,
        // 416: an empty object has no first byte to ask for.
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
            return whole(client, bucket, key).await;
        }
        Err(e) => return Err(AwsError::from_sdk("GetObject", target(bucket, key), &e)),
    };
    // `bytes 0-8388607/1000000000`: the total after the slash. An answer without a Content-Range is the whole
    // object; one whose total is unknown (`*`) cannot be read by ranges, so the object is read as one stream.
    let total = match out.content_range() {
        None => None,
        Some(range) => match range
            .rsplit_once('/')
            .and_then(|(_, t)| t.parse::<u64>().ok())
        {
            Some(total) => Some(total),
            None => return whole(client, bucket, key).await,
        },
    };
    Ok(Opened {
        partial: total.is_some(),
        object: ObjectStream::of(out, total),
    })
}

async fn whole(client: &Client, bucket: &str, key: &str) -> Result<Opened, AwsError> {
    Ok(Opened {
        object: get_stream(client, bucket, key).await?,
        partial: false,
    })
}

/// The whole object of an [`Opened`] first part, in order: the first part's body, then the rest fetched
/// `concurrency` parts ahead. A part that fails `attempts` times fails the read (an `io::Error` naming the byte),
/// which the caller reports as a retryable failure.
pub fn ranged_body(
    client: Client,
    bucket: &str,
    key: &str,
    first: ObjectStream,
    ranges: Ranges,
    attempts: u32,
) -> impl tokio::io::AsyncRead + Send + Unpin + 'static {
    let size = first.size.unwrap_or(0);
    let part = ranges.part_size.max(1);
    let first_end = part.min(size);
    let part_of = Part {
        client,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        etag: first.etag,
        attempts,
    };
    let mut first_body = Some(first.body);
    let bounds = std::iter::once((0, first_end)).chain(
        (first_end..size)
            .step_by(usize::try_from(part).unwrap_or(usize::MAX))
            .map(move |start| (start, (start + part).min(size))),
    );
    // Each part is a task of its own, so the GETs go on while the converter works on the bytes before them;
    // `buffered` starts a part only when fewer than `concurrency` are waiting, and hands them on in order.
    let parts = futures_util::stream::iter(bounds.map(move |(start, end)| {
        let part_of = part_of.clone();
        let body = first_body.take();
        Task(tokio::spawn(async move {
            part_of.fetch(start, end, body).await
        }))
    }))
    .buffered(ranges.concurrency.max(1))
    .map(|joined| joined.unwrap_or_else(|e| Err(io::Error::other(e))));
    tokio_util::io::StreamReader::new(Box::pin(parts))
}

/// A spawned part: dropping the body (a failed or finished conversion) cancels the GETs still running.
struct Task<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for Task<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

#[derive(Clone)]
struct Part {
    client: Client,
    bucket: String,
    key: String,
    etag: Option<String>,
    attempts: u32,
}

impl Part {
    /// Bytes `start..end`, from `body` when the first answer already carries them, resumed where a read stopped.
    async fn fetch(&self, start: u64, end: u64, mut body: Option<ByteStream>) -> io::Result<Bytes> {
        let len = usize::try_from(end - start).map_err(io::Error::other)?;
        let mut buf = BytesMut::with_capacity(len);
        let mut resumes_left = self.attempts;
        loop {
            let at = start + buf.len() as u64;
            let stream = match body.take() {
                Some(b) => Ok(b),
                None => self.request(at, end).await,
            };
            let cause = match stream {
                Ok(mut stream) => loop {
                    match stream.next().await {
                        Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                        Some(Err(e)) if buf.len() < len => break e.to_string(),
                        _ if buf.len() >= len => {
                            buf.truncate(len);
                            return Ok(buf.freeze());
                        }
                        _ => break "the body ended early".to_owned(),
                    }
                },
                Err(e) => e.to_string(),
            };
            let at = start + buf.len() as u64;
            let target = target(&self.bucket, &self.key);
            if resumes_left == 0 {
                return Err(io::Error::other(format!(
                    "reading {target} stopped at byte {at}: {cause}"
                )));
            }
            resumes_left -= 1;
            tracing::warn!(object = %target, offset = at, cause = %cause, "resuming a cut part with a ranged GET");
        }
    }

    /// Bytes `from..end`. An answer for other bytes (a server that ignored the range) is an error, never
    /// stitched in.
    async fn request(&self, from: u64, end: u64) -> Result<ByteStream, AwsError> {
        let range = format!("bytes={from}-{}", end - 1);
        let out = get_ranged(
            &self.client,
            &self.bucket,
            &self.key,
            range,
            self.etag.as_deref(),
        )
        .await?;
        let asked = format!("bytes {from}-{}/", end - 1);
        if !out.content_range().is_some_and(|r| r.starts_with(&asked)) {
            return Err(AwsError::other(
                "GetObject",
                target(&self.bucket, &self.key),
                crate::ErrorKind::ServiceUnavailable,
                format!(
                    "asked for {asked}…, the answer is {:?}",
                    out.content_range().unwrap_or("the whole object")
                ),
            ));
        }
        Ok(out.body)
    }
}
