//! One HTTPS request at a time, over HTTP/1.1: the Login with Amazon token endpoint. The request
//! is written into a fixed buffer, sent over a reusable [`TlsSession`], and the answer read into
//! another fixed buffer and parsed in place (`avs_core::http1`). Both buffers hold secrets
//! (refresh and access tokens, the client secret, device codes): each is wiped as soon as it is
//! done with, and when the exchange is dropped.

use std::ops::Range;
use std::ptr::NonNull;

use crate::memory::wipe;
use crate::memory::Buf;
use crate::protocol::http1::{self, Parsed, ResponseError};
use crate::protocol::Overflow;

use super::io::{IoError, Network};
use super::pool::Pool;
use super::tls::{Alpn, TlsConfig, TlsError};
use super::tls_session::TlsSession;

/// Why an exchange ended without an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpsError {
    /// Connecting, TLS, or the stream failed.
    Tls(TlsError),
    /// The answer was not HTTP/1.1 the parser accepts.
    Response(ResponseError),
    /// The answer does not fit the response buffer.
    ResponseTooLarge,
    /// The request does not fit the request buffer.
    RequestTooLarge,
    /// The host or path cannot be written in a request (control characters).
    BadRequest,
    /// No complete answer within the time allowed.
    Timeout,
}

impl std::fmt::Display for HttpsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpsError::Tls(e) => write!(f, "{e}"),
            HttpsError::Response(e) => write!(f, "unusable HTTP answer: {e:?}"),
            HttpsError::ResponseTooLarge => write!(f, "HTTP answer larger than its buffer"),
            HttpsError::RequestTooLarge => write!(f, "HTTP request larger than its buffer"),
            HttpsError::BadRequest => write!(f, "host or path not writable in an HTTP request"),
            HttpsError::Timeout => write!(f, "no answer in time"),
        }
    }
}

/// Where an exchange stands after [`HttpsExchange::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Nothing under way.
    Idle,
    /// Still connecting, sending or receiving.
    Pending,
    /// A complete answer: its status; the body is [`HttpsExchange::body`].
    Answered(u16),
    /// It failed; the exchange is idle again.
    Failed(HttpsError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Idle,
    Handshaking,
    Sending,
    Receiving,
    Answered { status: u16, body: Range<usize> },
}

/// One request and its answer at a time over a reusable TLS session.
pub struct HttpsExchange {
    session: TlsSession,
    request: Buf,
    request_len: usize,
    sent: usize,
    response: Buf,
    response_len: usize,
    phase: Phase,
    deadline: u64,
}

impl HttpsExchange {
    /// An exchange whose TLS session draws from `pool`, with its request and response buffers.
    pub fn new(pool: NonNull<Pool>, request: Buf, response: Buf) -> Self {
        HttpsExchange { session: TlsSession::new(pool), request, request_len: 0, sent: 0, response, response_len: 0, phase: Phase::Idle, deadline: 0 }
    }

    /// Whether a request is under way or its answer not yet [`finish`](Self::finish)ed.
    pub fn is_busy(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// Starts `POST path` to `host:port` (`authority` for the Host header) with the body that
    /// `body` writes, answered within `timeout_ms` of `now`. The body is written into the
    /// response buffer (free until the answer comes) and copied behind the headers; that copy
    /// is wiped at once.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        config: &TlsConfig,
        net: &mut dyn Network,
        (host, port, authority): (&str, u16, &str),
        path: &str,
        body: impl FnOnce(&mut [u8]) -> Result<usize, Overflow>,
        now: u64,
        timeout_ms: u32,
    ) -> Result<(), HttpsError> {
        self.finish(true);
        let written = body(&mut self.response).map_err(|_| HttpsError::RequestTooLarge).and_then(|n| {
            http1::write_post_request(&mut self.request, authority, path, "application/x-www-form-urlencoded", &self.response[..n]).map_err(|e| match e {
                http1::RequestError::Overflow => HttpsError::RequestTooLarge,
                _ => HttpsError::BadRequest,
            })
        });
        wipe(&mut self.response);
        self.request_len = match written {
            Ok(n) => n,
            Err(e) => {
                wipe(&mut self.request);
                return Err(e);
            }
        };
        self.sent = 0;
        self.deadline = now.saturating_add(u64::from(timeout_ms));
        if let Err(e) = self.session.start(config, Alpn::Http1, net, host, port) {
            self.finish(false);
            return Err(HttpsError::Tls(e));
        }
        self.phase = Phase::Handshaking;
        Ok(())
    }

    /// Moves the exchange on; call from the poll loop until it is no longer `Pending`. After
    /// `Answered`, read [`body`](Self::body), then [`finish`](Self::finish).
    pub fn poll(&mut self, now: u64) -> Progress {
        let result = self.step();
        match result {
            Ok(Some(status)) => Progress::Answered(status),
            Ok(None) if self.phase == Phase::Idle => Progress::Idle,
            Ok(None) if now >= self.deadline => {
                self.finish(false);
                Progress::Failed(HttpsError::Timeout)
            }
            Ok(None) => Progress::Pending,
            Err(e) => {
                self.finish(false);
                Progress::Failed(e)
            }
        }
    }

    fn step(&mut self) -> Result<Option<u16>, HttpsError> {
        loop {
            match self.phase {
                Phase::Idle => return Ok(None),
                Phase::Answered { status, .. } => return Ok(Some(status)),
                Phase::Handshaking => {
                    if !self.session.handshake().map_err(HttpsError::Tls)? {
                        return Ok(None);
                    }
                    self.phase = Phase::Sending;
                }
                Phase::Sending => {
                    while self.sent < self.request_len {
                        match self.session.send(&self.request[self.sent..self.request_len]) {
                            Ok(n) => self.sent += n,
                            Err(TlsError::Io(IoError::WouldBlock)) => return Ok(None),
                            Err(e) => return Err(HttpsError::Tls(e)),
                        }
                    }
                    // Sent: the request (with its secrets) is not needed again.
                    wipe(&mut self.request[..self.request_len]);
                    self.request_len = 0;
                    self.response_len = 0;
                    self.phase = Phase::Receiving;
                }
                Phase::Receiving => {
                    let eof = loop {
                        if self.response_len == self.response.len() {
                            return Err(HttpsError::ResponseTooLarge);
                        }
                        match self.session.recv(&mut self.response[self.response_len..]) {
                            Ok(n) => self.response_len += n,
                            Err(TlsError::Io(IoError::WouldBlock)) => break false,
                            Err(TlsError::Io(IoError::Closed)) => break true,
                            Err(e) => return Err(HttpsError::Tls(e)),
                        }
                    };
                    match http1::parse_response(&mut self.response[..self.response_len], eof) {
                        Ok(Parsed::Complete(r)) => self.phase = Phase::Answered { status: r.status, body: r.body },
                        Ok(Parsed::Partial) if eof => return Err(HttpsError::Response(ResponseError::Truncated)),
                        Ok(Parsed::Partial) => return Ok(None),
                        Err(e) => return Err(HttpsError::Response(e)),
                    }
                }
            }
        }
    }

    /// The answer's body, once `Answered` (empty otherwise).
    pub fn body(&self) -> &[u8] {
        match &self.phase {
            Phase::Answered { body, .. } => self.response.get(body.clone()).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Ends the exchange: both buffers wiped, the session closed. `reuse` keeps the byte
    /// stream for the next request to the same place (after a good exchange).
    pub fn finish(&mut self, reuse: bool) {
        let req = self.request_len.max(self.sent).min(self.request.len());
        let resp = self.response_len.min(self.response.len());
        wipe(&mut self.request[..req]);
        wipe(&mut self.response[..resp]);
        self.request_len = 0;
        self.sent = 0;
        self.response_len = 0;
        self.session.close(reuse);
        self.phase = Phase::Idle;
    }

    /// The socket to wait on while an exchange is under way.
    pub fn fd(&self) -> Option<i32> {
        self.is_busy().then(|| self.session.fd()).flatten()
    }

    /// Whether the socket must become writable for the exchange to go on.
    pub fn wants_write(&self) -> bool {
        matches!(self.phase, Phase::Handshaking | Phase::Sending) && self.session.wants_write()
    }

    /// When the exchange must be polled again at the latest: its deadline, or sooner while an
    /// address is being tried.
    pub fn wake_at(&self, now: u64) -> Option<u64> {
        if !self.is_busy() || matches!(self.phase, Phase::Answered { .. }) {
            return None;
        }
        let address = self.session.wake_in_ms().map(|ms| now.saturating_add(ms));
        Some(address.map_or(self.deadline, |a| a.min(self.deadline)))
    }
}

impl Drop for HttpsExchange {
    fn drop(&mut self) {
        self.finish(false);
    }
}
