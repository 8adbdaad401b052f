//! Responses that keep their request in flight (see [`opendata_platform::in_flight`]) until their
//! last byte is sent: a download counts against its caller for as long as it streams.

use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use opendata_platform::in_flight::InFlightGuard;

/// `response`, keeping its request in flight until its body has been sent whole (or dropped).
pub fn held_until_sent<K>(response: Response, guard: InFlightGuard<K>) -> Response
where
    K: Eq + Hash + Unpin + Send + Sync + 'static,
{
    let (parts, body) = response.into_parts();
    let body = Body::new(Held {
        inner: body,
        _guard: guard,
    });
    Response::from_parts(parts, body)
}

struct Held<K: Eq + Hash> {
    inner: Body,
    _guard: InFlightGuard<K>,
}

impl<K: Eq + Hash + Unpin> http_body::Body for Held<K> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
