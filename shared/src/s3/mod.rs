//! The S3 adapter: the client (path-style when an endpoint override is set), streaming reads, small reads,
//! metadata lookups, and a `Write` sink that uploads as it goes so memory stays bounded. Parallel ranged reads of
//! large objects are in `ranged`.

mod ranged;

pub use ranged::{Opened, Ranges, open, ranged_body};

use crate::ErrorKind;
use crate::aws::{AwsError, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use std::collections::HashMap;
use std::io::{self, Write};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// Builds the S3 client. With a custom endpoint (an emulator) it uses path-style addressing, which emulators
/// on loopback need; against AWS it keeps virtual-hosted style.
pub fn client(config: &SdkConfig) -> Client {
    let mut builder = aws_sdk_s3::config::Builder::from(config);
    if config.endpoint_url().is_some() {
        builder = builder.force_path_style(true);
    }
    Client::from_conf(builder.build())
}

fn target(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// An object's body as a stream, with its identity.
#[derive(Debug)]
pub struct ObjectStream {
    pub body: ByteStream,
    pub etag: Option<String>,
    pub size: Option<u64>,
    /// When this version was written (for a multipart upload: when the upload began).
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// Opens `key` for streaming.
pub async fn get_stream(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<ObjectStream, AwsError> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetObject", target(bucket, key), &e))?;
    Ok(ObjectStream::of(out, None))
}

impl ObjectStream {
    /// A GetObject answer's body and identity; `size` is the whole object's when the answer is a range of it.
    fn of(out: GetObjectOutput, size: Option<u64>) -> Self {
        Self {
            etag: out.e_tag().map(|e| e.trim_matches('"').to_owned()),
            size: size.or_else(|| out.content_length().and_then(|n| u64::try_from(n).ok())),
            last_modified: out
                .last_modified()
                .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
            body: out.body,
        }
    }
}

/// A ranged GET (`range` as in the Range header: `bytes=100-199`, `bytes=100-`), read only while the object's
/// ETag is still `etag` when one is given: a replaced object fails with PreconditionFailed instead of answering
/// bytes of another version.
async fn get_ranged(
    client: &Client,
    bucket: &str,
    key: &str,
    range: String,
    etag: Option<&str>,
) -> Result<GetObjectOutput, AwsError> {
    client
        .get_object()
        .bucket(bucket)
        .key(key)
        .range(range)
        .set_if_match(etag.map(|e| format!("\"{e}\"")))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetObject", target(bucket, key), &e))
}

/// A body read whole; a stream that breaks is transport trouble.
async fn collect(body: ByteStream, bucket: &str, key: &str) -> Result<Bytes, AwsError> {
    let data = body.collect().await.map_err(|e| {
        AwsError::other(
            "GetObject",
            target(bucket, key),
            ErrorKind::ServiceUnavailable,
            e.to_string(),
        )
    })?;
    Ok(data.into_bytes())
}

/// How many times a body cut mid-stream is resumed before the read fails.
pub const RESUME_ATTEMPTS: u32 = 3;

/// An object's body that survives a connection cut mid-stream: when the stream fails, or ends before the
/// object's length, the rest is fetched with a ranged GET from the byte it stopped at, conditioned on the ETag
/// so that a replaced object is never stitched to the old one's start. After `attempts` resumes the read fails
/// (an `io::Error` naming the offset), which the caller reports as a retryable failure.
pub fn resuming_body(
    client: Client,
    bucket: &str,
    key: &str,
    object: ObjectStream,
    attempts: u32,
) -> impl tokio::io::AsyncRead + Send + Unpin + 'static {
    let state = Resume {
        client,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        etag: object.etag,
        size: object.size,
        offset: 0,
        body: Some(object.body),
        resumes_left: attempts,
    };
    let stream = futures_util::stream::unfold(Some(state), |state| async move {
        let mut st = state?;
        loop {
            let next = match st.body.as_mut() {
                Some(body) => body.next().await,
                None => None,
            };
            let cause = match next {
                Some(Ok(bytes)) => {
                    st.offset += bytes.len() as u64;
                    return Some((Ok(bytes), Some(st)));
                }
                None if st.body.is_some() && st.size.is_none_or(|n| st.offset >= n) => return None,
                // Every byte arrived; a failure after the last one (the connection's close) loses nothing.
                Some(Err(_)) if st.size.is_some_and(|n| st.offset >= n) => return None,
                Some(Err(e)) => e.to_string(),
                None if st.body.is_some() => "the body ended early".to_owned(),
                None => "the ranged GET failed".to_owned(),
            };
            let target = target(&st.bucket, &st.key);
            if st.resumes_left == 0 {
                let message = format!("reading {target} stopped at byte {}: {cause}", st.offset);
                return Some((Err(io::Error::other(message)), None));
            }
            st.resumes_left -= 1;
            tracing::warn!(object = %target, offset = st.offset, cause = %cause, "resuming a cut read with a ranged GET");
            st.body = st.reopen().await;
        }
    });
    tokio_util::io::StreamReader::new(Box::pin(stream))
}

struct Resume {
    client: Client,
    bucket: String,
    key: String,
    etag: Option<String>,
    size: Option<u64>,
    offset: u64,
    body: Option<ByteStream>,
    resumes_left: u32,
}

impl Resume {
    /// The rest of the object from `offset`, or `None` when the ranged GET fails.
    async fn reopen(&self) -> Option<ByteStream> {
        let range = format!("bytes={}-", self.offset);
        let out = get_ranged(
            &self.client,
            &self.bucket,
            &self.key,
            range,
            self.etag.as_deref(),
        )
        .await;
        match out {
            Ok(out) => Some(out.body),
            Err(e) => {
                tracing::warn!(error = %e, "ranged GET failed");
                None
            }
        }
    }
}

/// Reads a small object whole, or `None` when it does not exist. Objects over `max_bytes` are refused.
pub async fn get_optional(
    client: &Client,
    bucket: &str,
    key: &str,
    max_bytes: u64,
) -> Result<Option<Bytes>, AwsError> {
    let object = match get_stream(client, bucket, key).await {
        Ok(o) => o,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if object.size.is_some_and(|n| n > max_bytes) {
        return Err(AwsError::other(
            "GetObject",
            target(bucket, key),
            ErrorKind::InvalidInput,
            format!("object is larger than the {max_bytes} byte limit"),
        ));
    }
    collect(object.body, bucket, key).await.map(Some)
}

/// Bytes `first..first + len` of `key` (fewer at the object's end), read only while its ETag is still `etag`:
/// a replaced object fails with S3's PreconditionFailed instead of answering bytes of another version.
pub async fn get_range(
    client: &Client,
    bucket: &str,
    key: &str,
    first: u64,
    len: u64,
    etag: &str,
) -> Result<Bytes, AwsError> {
    let range = format!("bytes={first}-{}", first + len.max(1) - 1);
    let out = get_ranged(client, bucket, key, range, Some(etag)).await?;
    collect(out.body, bucket, key).await
}

/// An object's size and user metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    /// Without its quotes.
    pub etag: String,
    pub metadata: HashMap<String, String>,
}

/// The size and user metadata of `key`, or `None` when it does not exist.
pub async fn head(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectHead>, AwsError> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(ObjectHead {
            size: out
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            etag: out.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
            metadata: out.metadata().cloned().unwrap_or_default(),
        })),
        Err(e) => {
            let err = AwsError::from_sdk("HeadObject", target(bucket, key), &e);
            if err.kind == ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// Every key under `prefix`, in S3's order, over as many pages as it takes.
pub async fn list_keys(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, AwsError> {
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| AwsError::from_sdk("ListObjectsV2", target(bucket, prefix), &e))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_owned),
        );
    }
    Ok(keys)
}

/// Writes a whole object.
pub async fn put(
    client: &Client,
    bucket: &str,
    key: &str,
    body: Bytes,
    content_type: &str,
) -> Result<(), AwsError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutObject", target(bucket, key), &e))?;
    Ok(())
}

/// Deletes an object (a missing one is no error, as in S3).
pub async fn delete(client: &Client, bucket: &str, key: &str) -> Result<(), AwsError> {
    client
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteObject", target(bucket, key), &e))?;
    Ok(())
}

/// Where and how a streamed upload lands.
#[derive(Debug, Clone)]
pub struct UploadSpec {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
    pub metadata: HashMap<String, String>,
    /// Bytes per part; S3 needs at least 5 MiB for every part but the last.
    pub part_size: usize,
    /// Parts uploaded at once.
    pub concurrency: usize,
    /// What the upload may replace (S3 conditional writes).
    pub replace: Replace,
}

/// What an upload may replace. A write whose condition no longer holds (another writer got there first) fails as
/// `Conflict`, and nothing of it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Replace {
    /// Whatever is at the key.
    #[default]
    Any,
    /// Nothing: the key must be free (`If-None-Match: *`).
    Nothing,
    /// Only the object with this ETag (`If-Match`).
    Version(String),
}

impl Replace {
    /// The request's `If-None-Match` and `If-Match` headers, as PutObject and CompleteMultipartUpload both take them.
    fn conditions(&self) -> (Option<String>, Option<String>) {
        match self {
            Self::Any => (None, None),
            Self::Nothing => (Some("*".to_owned()), None),
            Self::Version(etag) => (None, Some(format!("\"{etag}\""))),
        }
    }
}

/// What a finished upload wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub bytes: u64,
    pub parts: usize,
}

enum Msg {
    Part(Bytes),
    Finish,
}

/// A blocking `Write` sink that uploads to S3 while it is written. It holds at most the part being filled, one
/// waiting in the channel, the part the uploader holds back (so that a one-part object is a single PutObject),
/// the next one while it waits for a free slot, and `concurrency` parts in flight: up to
/// `(concurrency + 4) * part_size` whatever the object size. A stream that
/// fits in one part is written with a single PutObject; nothing is written at all until the first part fills or
/// [`S3Writer::finish`] is called, and a writer dropped or [`S3Writer::abort`]ed leaves no object behind.
///
/// Use it from a blocking thread (`spawn_blocking`), never from async code.
#[derive(Debug)]
pub struct S3Writer {
    buf: Vec<u8>,
    part_size: usize,
    tx: Option<mpsc::Sender<Msg>>,
    task: Option<JoinHandle<Result<Option<Uploaded>, AwsError>>>,
    runtime: Handle,
    target: String,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Part(b) => write!(f, "Part({} bytes)", b.len()),
            Msg::Finish => f.write_str("Finish"),
        }
    }
}

impl S3Writer {
    /// Starts the uploader task on `runtime`.
    pub fn new(client: Client, mut spec: UploadSpec, runtime: Handle) -> Self {
        spec.part_size = spec.part_size.max(5 * 1024 * 1024);
        spec.concurrency = spec.concurrency.max(1);
        let (tx, rx) = mpsc::channel(1);
        let part_size = spec.part_size;
        let target = target(&spec.bucket, &spec.key);
        let task = runtime.spawn(upload(client, spec, rx));
        Self {
            buf: Vec::with_capacity(part_size),
            part_size,
            tx: Some(tx),
            task: Some(task),
            runtime,
            target,
        }
    }

    fn send(&mut self, msg: Msg) -> io::Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.blocking_send(msg));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("upload to {} stopped", self.target),
            )),
        }
    }

    /// Waits for the uploader: `Ok(None)` means it stopped cleanly without writing an object.
    fn join(&mut self) -> Result<Option<Uploaded>, AwsError> {
        self.tx = None;
        let task = self.task.take().ok_or_else(|| {
            AwsError::other(
                "Upload",
                self.target.clone(),
                ErrorKind::Internal,
                "writer already finished",
            )
        })?;
        self.runtime.block_on(task).map_err(|e| {
            AwsError::other(
                "Upload",
                self.target.clone(),
                ErrorKind::Internal,
                format!("uploader task failed: {e}"),
            )
        })?
    }

    /// Uploads what is buffered and completes the object.
    pub fn finish(mut self) -> Result<Uploaded, AwsError> {
        let last = Bytes::from(std::mem::take(&mut self.buf));
        // If a send fails the uploader stopped early, and its own error says why.
        let _ = self
            .send(Msg::Part(last))
            .and_then(|()| self.send(Msg::Finish));
        self.join()?.ok_or_else(|| {
            AwsError::other(
                "Upload",
                self.target.clone(),
                ErrorKind::Internal,
                "upload stopped before it finished",
            )
        })
    }

    /// Abandons the upload; no object is written. Returns the uploader's error if it had already failed, which
    /// is usually the real cause of whatever made the caller give up.
    pub fn abort(mut self) -> Result<(), AwsError> {
        self.join().map(|_| ())
    }
}

impl Write for S3Writer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.part_size {
            let part = std::mem::replace(&mut self.buf, Vec::with_capacity(self.part_size));
            self.send(Msg::Part(Bytes::from(part)))?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        // Closing the channel without `Finish` makes the uploader abort; it runs on, detached, to clean up.
        self.tx = None;
    }
}

async fn upload(
    client: Client,
    spec: UploadSpec,
    mut rx: mpsc::Receiver<Msg>,
) -> Result<Option<Uploaded>, AwsError> {
    let target = target(&spec.bucket, &spec.key);
    let mut pending: Option<Bytes> = None;
    let mut upload_id: Option<String> = None;
    // Spawned tasks, not a `futures` stream: parts must keep uploading while this loop waits on the channel for
    // the converter's next part, and a stream makes progress only while it is polled.
    let mut in_flight: JoinSet<Result<CompletedPart, AwsError>> = JoinSet::new();
    let mut completed: Vec<CompletedPart> = Vec::new();
    let mut next_part = 1_i32;
    let mut bytes = 0_u64;

    let result: Result<Option<Uploaded>, AwsError> = async {
        loop {
            match rx.recv().await {
                Some(Msg::Part(part)) => {
                    bytes += part.len() as u64;
                    let Some(previous) = pending.replace(part) else {
                        continue;
                    };
                    let id = match &upload_id {
                        Some(id) => id.clone(),
                        None => {
                            let id = create(&client, &spec).await?;
                            upload_id = Some(id.clone());
                            id
                        }
                    };
                    while in_flight.len() >= spec.concurrency {
                        completed.push(joined(in_flight.join_next().await, &target)?);
                    }
                    in_flight.spawn(upload_part(
                        client.clone(),
                        spec.bucket.clone(),
                        spec.key.clone(),
                        id,
                        next_part,
                        previous,
                    ));
                    next_part += 1;
                }
                Some(Msg::Finish) => {
                    let last = pending.take().unwrap_or_default();
                    let Some(id) = upload_id.clone() else {
                        put_whole(&client, &spec, last).await?;
                        return Ok(Some(Uploaded { bytes, parts: 1 }));
                    };
                    if !last.is_empty() || completed.len() + in_flight.len() == 0 {
                        in_flight.spawn(upload_part(
                            client.clone(),
                            spec.bucket.clone(),
                            spec.key.clone(),
                            id.clone(),
                            next_part,
                            last,
                        ));
                    }
                    while !in_flight.is_empty() {
                        completed.push(joined(in_flight.join_next().await, &target)?);
                    }
                    completed.sort_by_key(|p| p.part_number());
                    let parts = completed.len();
                    let (if_none_match, if_match) = spec.replace.conditions();
                    client
                        .complete_multipart_upload()
                        .bucket(&spec.bucket)
                        .key(&spec.key)
                        .set_if_none_match(if_none_match)
                        .set_if_match(if_match)
                        .upload_id(&id)
                        .multipart_upload(
                            CompletedMultipartUpload::builder()
                                .set_parts(Some(std::mem::take(&mut completed)))
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(|e| {
                            AwsError::from_sdk("CompleteMultipartUpload", target.clone(), &e)
                        })?;
                    upload_id = None;
                    return Ok(Some(Uploaded { bytes, parts }));
                }
                // The writer was dropped or aborted: clean up below.
                None => return Ok(None),
            }
        }
    }
    .await;

    if !matches!(result, Ok(Some(_))) {
        in_flight.abort_all();
        if let Some(id) = upload_id {
            // Best effort: a leftover incomplete upload is also removed by the bucket's lifecycle rule.
            let aborted = client
                .abort_multipart_upload()
                .bucket(&spec.bucket)
                .key(&spec.key)
                .upload_id(id)
                .send()
                .await;
            if let Err(e) = aborted {
                tracing::warn!(target = %target, error = %AwsError::from_sdk("AbortMultipartUpload", target.clone(), &e), "could not abort multipart upload");
            }
        }
    }
    result
}

fn joined(
    next: Option<Result<Result<CompletedPart, AwsError>, tokio::task::JoinError>>,
    target: &str,
) -> Result<CompletedPart, AwsError> {
    match next {
        Some(Ok(part)) => part,
        Some(Err(e)) => Err(AwsError::other(
            "UploadPart",
            target,
            ErrorKind::Internal,
            e.to_string(),
        )),
        None => Err(AwsError::other(
            "UploadPart",
            target,
            ErrorKind::Internal,
            "no part in flight",
        )),
    }
}

async fn create(client: &Client, spec: &UploadSpec) -> Result<String, AwsError> {
    let out = client
        .create_multipart_upload()
        .bucket(&spec.bucket)
        .key(&spec.key)
        .content_type(&spec.content_type)
        .set_metadata(Some(spec.metadata.clone()))
        .send()
        .await
        .map_err(|e| {
            AwsError::from_sdk("CreateMultipartUpload", target(&spec.bucket, &spec.key), &e)
        })?;
    out.upload_id().map(str::to_owned).ok_or_else(|| {
        AwsError::other(
            "CreateMultipartUpload",
            target(&spec.bucket, &spec.key),
            ErrorKind::ServiceUnavailable,
            "no upload id returned",
        )
    })
}

async fn upload_part(
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    number: i32,
    body: Bytes,
) -> Result<CompletedPart, AwsError> {
    let out = client
        .upload_part()
        .bucket(&bucket)
        .key(&key)
        .upload_id(upload_id)
        .part_number(number)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("UploadPart", target(&bucket, &key), &e))?;
    Ok(CompletedPart::builder()
        .set_e_tag(out.e_tag().map(str::to_owned))
        .part_number(number)
        .build())
}

async fn put_whole(client: &Client, spec: &UploadSpec, body: Bytes) -> Result<(), AwsError> {
    let (if_none_match, if_match) = spec.replace.conditions();
    client
        .put_object()
        .set_if_none_match(if_none_match)
        .set_if_match(if_match)
        .bucket(&spec.bucket)
        .key(&spec.key)
        .content_type(&spec.content_type)
        .set_metadata(Some(spec.metadata.clone()))
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutObject", target(&spec.bucket, &spec.key), &e))?;
    Ok(())
}
