//! A response body that fails when its source stays silent too long.
//!
//! tower-http's `TimeoutBody` arms a timer before every poll of the body, so each frame of
//! each response registers and clears a timer entry, also when the frame is already there
//! (a small upstream answer arrives with its head). Here the body is polled first and the
//! timer is armed only while the body has nothing to give.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::Sleep;

/// The error of an [`IdleTimeout`] body whose source was silent for its whole timeout.
#[derive(Debug, thiserror::Error)]
#[error("the upstream sent nothing for {0:?}")]
pub struct Silent(pub Duration);

pin_project! {
    /// `body`, failing with [`Silent`] when it gives no frame for `timeout`.
    pub struct IdleTimeout<B> {
        #[pin]
        body: B,
        #[pin]
        sleep: Option<Sleep>,
        timeout: Duration,
    }
}

impl<B> IdleTimeout<B> {
    /// `body` with at most `timeout` of silence between frames.
    pub fn new(body: B, timeout: Duration) -> Self {
        Self {
            body,
            sleep: None,
            timeout,
        }
    }
}

impl<B> Body for IdleTimeout<B>
where
    B: Body,
    B::Error: Into<axum::BoxError>,
{
    type Data = B::Data;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        if let Poll::Ready(frame) = this.body.poll_frame(cx) {
            this.sleep.set(None);
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        if this.sleep.is_none() {
            this.sleep.set(Some(tokio::time::sleep(*this.timeout)));
        }
        if let Some(sleep) = this.sleep.as_pin_mut() {
            ready!(sleep.poll(cx));
        }
        Poll::Ready(Some(Err(Silent(*this.timeout).into())))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test(start_paused = true)]
    async fn frames_pass_and_a_silent_source_fails_after_the_timeout() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Silent>>(1);
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let mut body = std::pin::pin!(IdleTimeout::new(
            StreamBody::new(stream),
            Duration::from_secs(5)
        ));
        tx.send(Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .unwrap();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "a");
        // Silence shorter than the timeout, then a frame: the wait starts again.
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            tx.send(Ok(Frame::data(Bytes::from_static(b"b"))))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(tx);
        });
        let second = body.frame().await.unwrap().unwrap();
        assert_eq!(second.into_data().unwrap(), "b");
        let started = tokio::time::Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.is::<Silent>(), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        sender.abort();
    }

    #[tokio::test]
    async fn the_end_passes_through() {
        let mut body = std::pin::pin!(IdleTimeout::new(
            http_body_util::Full::new(Bytes::from_static(b"x")),
            Duration::from_secs(1),
        ));
        assert_eq!(
            body.frame().await.unwrap().unwrap().into_data().unwrap(),
            "x"
        );
        assert!(body.frame().await.is_none());
        assert!(body.is_end_stream());
    }
}
