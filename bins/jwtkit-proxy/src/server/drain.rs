//! Graceful shutdown of the listener's connections: once [`Drain::drain`] is called, every
//! watched connection finishes the requests in flight and closes (hyper's
//! `graceful_shutdown`), every task waiting on [`Watcher::drained`] (a relayed WebSocket) ends
//! its work, and `drain` returns when every tracked task has ended.
//!
//! hyper-util's `GracefulShutdown` does the same with a `watch` channel whose `changed()`
//! future is polled on every poll of every connection: a few hundred instructions per proxied
//! request (docs/PERFORMANCE.md). Here a connection registers its task's waker once, and each
//! later poll reads one atomic flag; the registration is renewed only if the task's waker
//! changes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use hyper_util::server::graceful::GracefulConnection;
use pin_project_lite::pin_project;
use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TrackedFuture;

/// The signal to the connections, and the tasks to wait for. Clones share both: the listener
/// drains, the forwarder tracks the WebSocket relays it starts.
#[derive(Clone, Default)]
pub struct Drain {
    draining: Arc<AtomicBool>,
    notify: Arc<Notify>,
    tasks: TaskTracker,
}

impl Drain {
    /// No connection yet, not draining.
    pub fn new() -> Self {
        Self::default()
    }

    /// The signal for one connection, taken now: a drain from this point on reaches the
    /// connection it later watches (also one still in its TLS handshake now).
    pub fn watcher(&self) -> Watcher {
        Watcher {
            draining: self.draining.clone(),
            // Created now, it is woken by any `notify_waiters` from now on, polled or not.
            notified: self.notify.clone().notified_owned(),
        }
    }

    /// `task`, which [`Drain::drain`] waits for.
    pub fn track<F: Future>(&self, task: F) -> TrackedFuture<F> {
        self.tasks.track_future(task)
    }

    /// Tells every watched connection to finish its requests in flight and close, then waits
    /// until every tracked task has ended (of every clone of this drain).
    pub async fn drain(self) {
        // The flag first: a connection woken by the notification reads it set.
        self.draining.store(true, Ordering::Release);
        self.notify.notify_waiters();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// One connection's side of the signal ([`Drain::watcher`]).
pub struct Watcher {
    draining: Arc<AtomicBool>,
    notified: OwnedNotified,
}

impl Watcher {
    /// Resolves once the drain has started.
    pub async fn drained(self) {
        if !self.draining.load(Ordering::Acquire) {
            self.notified.await;
        }
    }

    /// `connection`, shut down gracefully once the drain starts.
    pub fn watch<C: GracefulConnection>(self, connection: C) -> Watched<C> {
        Watched {
            connection,
            notified: self.notified,
            draining: self.draining,
            registered: None,
            shutting_down: false,
        }
    }
}

pin_project! {
    /// A connection that shuts down gracefully when its [`Drain`] drains.
    pub struct Watched<C> {
        #[pin]
        connection: C,
        #[pin]
        notified: OwnedNotified,
        draining: Arc<AtomicBool>,
        // The waker the notification wakes (registered by polling `notified`).
        registered: Option<Waker>,
        shutting_down: bool,
    }
}

impl<C: GracefulConnection> Future for Watched<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if !*this.shutting_down {
            let drain = this.draining.load(Ordering::Acquire)
                || (!this
                    .registered
                    .as_ref()
                    .is_some_and(|waker| waker.will_wake(cx.waker()))
                    && {
                        // (Re-)registers this task's waker; ready when the notification came
                        // between the flag's reading and here.
                        *this.registered = Some(cx.waker().clone());
                        this.notified.as_mut().poll(cx).is_ready()
                    });
            if drain {
                *this.shutting_down = true;
                this.connection.as_mut().graceful_shutdown();
            }
        }
        this.connection.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// Serves one connection accepted on `listener`, watched by `drain`; each request's answer
    /// waits for `release` first.
    async fn serve_one(
        listener: &TcpListener,
        drain: &Drain,
        release: Arc<Notify>,
    ) -> tokio::task::JoinHandle<()> {
        let (stream, _) = listener.accept().await.unwrap();
        let service = service_fn(move |_request: hyper::Request<Incoming>| {
            let release = release.clone();
            async move {
                release.notified().await;
                Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("done")))
            }
        });
        let connection = Builder::new(TokioExecutor::new())
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let watched = drain.watcher().watch(connection);
        tokio::spawn(drain.track(async move {
            let _ = watched.await;
        }))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_drain_finishes_the_request_in_flight_then_closes_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let drain = Drain::new();
        let release = Arc::new(Notify::new());
        let task = serve_one(&listener, &drain, release.clone()).await;
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        // The request is in flight (its answer waits for `release`) when the drain starts.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let drained = tokio::spawn(drain.drain());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !drained.is_finished(),
            "the drain waits for the request in flight"
        );
        release.notify_one();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut answer))
            .await
            .expect("the connection closes after its answer")
            .unwrap();
        let answer = String::from_utf8(answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("done"), "{answer}");
        tokio::time::timeout(Duration::from_secs(5), drained)
            .await
            .expect("the drain ends once the connection has")
            .unwrap();
        assert!(task.is_finished());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_drain_closes_idle_connections_and_reaches_connections_watched_later() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let drain = Drain::new();
        let release = Arc::new(Notify::new());
        // An idle keep-alive connection, polled (its waker registered) before the drain.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let _idle_task = serve_one(&listener, &drain, release.clone()).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        // A signal taken before the drain, for a connection watched only after it (a TLS
        // connection still in its handshake).
        let watcher = drain.watcher();
        let drained = tokio::spawn(drain.drain());
        let mut buffer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut buffer))
            .await
            .expect("the idle connection is closed by the drain")
            .unwrap();
        assert_eq!(read, 0, "nothing is sent on an idle connection that closes");
        // The late connection: served after the drain started, it answers no request.
        let mut late = TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let service = service_fn(|_request: hyper::Request<Incoming>| async {
            Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new()))
        });
        let connection = Builder::new(TokioExecutor::new())
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        tokio::spawn(watcher.watch(connection));
        tokio::time::timeout(Duration::from_secs(5), late.read_to_end(&mut buffer))
            .await
            .expect("the late connection is closed at once")
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), drained)
            .await
            .expect("the drain ends once every connection has")
            .unwrap();
    }
}
