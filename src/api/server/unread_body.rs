//! Requests whose body the handler did not read to its end (refused before reading: 413,
//! 401...): their answer says `Connection: close`, so the client does not reuse a
//! connection that the server closes (after lingering) instead of keeping.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{header, HeaderValue, Request, Response};
use hyper::body::{Body, Frame, SizeHint};

/// A request body that records when it was read to its end.
#[derive(Debug)]
pub struct Watched<B> {
    inner: B,
    ended: Arc<AtomicBool>,
}

/// The request with its body watched, and the flag that says it was read to its end.
pub fn watch<B: Body>(request: Request<B>) -> (Request<Watched<B>>, Arc<AtomicBool>) {
    let ended = Arc::new(AtomicBool::new(request.body().is_end_stream()));
    let flag = ended.clone();
    (request.map(|inner| Watched { inner, ended }), flag)
}

/// Marks the answer `Connection: close` unless the body was read to its end.
pub fn close_if_unread<T>(response: &mut Response<T>, ended: &AtomicBool) {
    if !ended.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

impl<B: Body + Unpin> Body for Watched<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || this.inner.is_end_stream() {
            this.ended.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body as AxumBody;

    #[tokio::test]
    async fn only_a_body_left_unread_closes_the_connection() {
        let (request, ended) = watch(Request::new(AxumBody::from("12345")));
        let mut response = Response::new(());
        close_if_unread(&mut response, &ended);
        assert_eq!(response.headers()[header::CONNECTION], "close");

        let (request2, ended2) = watch(Request::new(AxumBody::from("12345")));
        let bytes = axum::body::to_bytes(AxumBody::new(request2.into_body()), 100)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"12345");
        let mut response = Response::new(());
        close_if_unread(&mut response, &ended2);
        assert!(response.headers().get(header::CONNECTION).is_none());

        let (_, ended3) = watch(Request::new(AxumBody::empty()));
        let mut response = Response::new(());
        close_if_unread(&mut response, &ended3);
        assert!(
            response.headers().get(header::CONNECTION).is_none(),
            "no body: nothing unread"
        );
        drop(request);
    }
}
