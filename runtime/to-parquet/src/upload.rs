//! Streaming an output to S3: bytes arrive in pieces; a small output becomes one `PutObject`, a
//! large one a multipart upload whose parts are sent as soon as they are big enough, so the whole
//! file is never in memory.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use thiserror::Error;

/// Bytes buffered before a part is sent (S3's minimum part size is 5 MiB, except the last part).
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// S3's minimum size of a part that is not the last.
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// An S3 call failed.
#[derive(Debug, Error)]
#[error(
    "cannot write s3://{bucket}/{key} ({operation}): {message} (check s3:PutObject on the prefix for the function's role)"
)]
pub struct UploadError {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The S3 operation.
    pub operation: &'static str,
    /// The SDK's error with its context.
    pub message: String,
}

/// One output object being written.
#[derive(Debug)]
pub struct Upload {
    client: Client,
    bucket: String,
    key: String,
    content_type: &'static str,
    part_bytes: usize,
    buffer: Vec<u8>,
    multipart: Option<(String, Vec<CompletedPart>)>,
}

impl Upload {
    /// An upload of `bucket/key` (nothing is sent yet) in parts of at least `part_bytes`.
    pub fn new(
        client: &Client,
        part_bytes: usize,
        bucket: &str,
        key: String,
        content_type: &'static str,
    ) -> Self {
        Self {
            client: client.clone(),
            part_bytes: part_bytes.max(MIN_PART_BYTES),
            bucket: bucket.to_owned(),
            key,
            content_type,
            buffer: Vec::new(),
            multipart: None,
        }
    }

    /// The object key.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn error(&self, operation: &'static str, e: impl std::error::Error) -> UploadError {
        UploadError {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            operation,
            message: DisplayErrorContext(e).to_string(),
        }
    }

    /// Appends bytes; sends a part once at least `part_bytes` are buffered.
    pub async fn write(&mut self, bytes: Vec<u8>) -> Result<(), UploadError> {
        if self.buffer.is_empty() {
            self.buffer = bytes;
        } else {
            self.buffer.extend_from_slice(&bytes);
        }
        if self.buffer.len() >= self.part_bytes {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn send_part(&mut self) -> Result<(), UploadError> {
        if self.multipart.is_none() {
            let created = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type(self.content_type)
                .send()
                .await
                .map_err(|e| self.error("CreateMultipartUpload", e))?;
            let upload_id = created.upload_id.unwrap_or_default();
            self.multipart = Some((upload_id, Vec::new()));
        }
        let body = std::mem::take(&mut self.buffer);
        let Some((upload_id, parts)) = &self.multipart else {
            return Ok(());
        };
        let number = parts.len() as i32 + 1;
        let sent = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| self.error("UploadPart", e))?;
        if let Some((_, parts)) = &mut self.multipart {
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(sent.e_tag)
                    .build(),
            );
        }
        Ok(())
    }

    /// Sends what is left and completes the object.
    pub async fn finish(mut self) -> Result<(), UploadError> {
        if self.multipart.is_none() {
            let body = std::mem::take(&mut self.buffer);
            return self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type(self.content_type)
                .body(ByteStream::from(body))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.error("PutObject", e));
        }
        if !self.buffer.is_empty() {
            self.send_part().await?;
        }
        let Some((upload_id, parts)) = self.multipart.take() else {
            return Ok(());
        };
        let result = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let error = self.error("CompleteMultipartUpload", e);
                self.multipart = Some((upload_id, Vec::new()));
                self.abort().await;
                Err(error)
            }
        }
    }

    /// Abandons the upload: a started multipart upload is aborted so its parts are not stored
    /// (and billed) forever. Failures are logged: the bucket's lifecycle rule is the backstop.
    pub async fn abort(self) {
        let Some((upload_id, _)) = &self.multipart else {
            return;
        };
        if let Err(e) = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .send()
            .await
        {
            tracing::warn!(bucket = self.bucket, key = self.key, error = %DisplayErrorContext(e), "cannot abort a multipart upload");
        }
    }
}
