//! Login with Amazon inside the client: refresh tokens exchanged for access tokens, code-based
//! linking, and the authorization code grant with PKCE, all against the token endpoint
//! (`https://api.amazon.com` by default) over HTTP/1.1 on a TLS session of its own
//! ([`HttpsExchange`]), non-blocking, from the client's poll loop. The wire format is
//! `avs_core::lwa`.
//!
//! One goal at a time ([`Goal`]), one request at a time. Answers decide what follows: a token
//! (renewed ahead of its expiry), a wait (`authorization_pending`, `slow_down`), a new code pair
//! (`invalid_code_pair`, expiry), a retry after a growing, jittered delay (network failures,
//! 429, 5xx, `server_error`), or — for credentials refused for good (`invalid_grant`,
//! `invalid_client`, `unauthorized_client`, ...) — [`AuthState::AuthorizationRequired`], with
//! no retry until the host acts.

use core::fmt::Write as _;

use avs_core::lwa::{self as wire, OAuthErrorKind};

use super::secret::Secret;
use super::{renew_delay_ms, AuthCx};
use crate::client::backoff::Backoff;
use crate::host::log;
use crate::interfaces::storage::{CODE_VERIFIER_KEY, REFRESH_TOKEN_KEY};
use crate::memory::{wipe, Buf};
use crate::status::{AuthState, AvsStatus, LogLevel};
use crate::transport::endpoint::{parse_endpoint, Endpoint};
use crate::transport::https::{HttpsExchange, Progress};
use crate::transport::pool::Pool;
use core::ptr::NonNull;

/// Amazon's Login with Amazon endpoint.
pub(crate) const DEFAULT_URL: &str = "https://api.amazon.com";
/// Access tokens are renewed this long before they expire (at most a quarter of their life).
pub(crate) const DEFAULT_REFRESH_AHEAD_MS: u32 = 600_000;
/// mbedTLS's memory for the token endpoint's session: one handshake at a time.
pub(crate) const DEFAULT_TLS_MEMORY_BYTES: usize = 45_056;
const TOKEN_PATH: &str = "/auth/o2/token";
const CODE_PAIR_PATH: &str = "/auth/o2/create/codepair";

/// A request with its headers (the refresh token, client secret and form around them).
pub(crate) const REQUEST_BYTES: usize = 4096;
/// An answer with its headers: tokens are well under 1 KB each.
pub(crate) const RESPONSE_BYTES: usize = 8192;
pub(crate) const REFRESH_TOKEN_MAX: usize = 2048;
pub(crate) const CLIENT_SECRET_MAX: usize = 512;
pub(crate) const DEVICE_CODE_MAX: usize = 512;
pub(crate) const AUTH_CODE_MAX: usize = 1024;
pub(crate) const REDIRECT_URI_MAX: usize = 1024;
pub(crate) const CLIENT_ID_MAX: usize = 256;
/// Product ids and serial numbers for code-based linking.
pub(crate) const LINK_FIELD_MAX: usize = 128;
/// Longest base-URL path (`https://host/PATH`) accepted.
const URL_PATH_MAX: usize = 200;
/// `slow_down` doubles the polling interval up to this.
const MAX_POLL_INTERVAL_MS: u64 = 60_000;

/// Login with Amazon's settings, checked.
pub struct LwaSettings {
    /// Base URL, `https://host[:port][/path]`.
    pub url: String,
    pub client_id: String,
    /// Empty when the security profile has none. Wiped once copied.
    pub client_secret: String,
    /// Empty when there is none yet (storage, linking or an authorization code then). Wiped
    /// once copied.
    pub refresh_token: String,
    /// mbedTLS's memory for the token endpoint's session.
    pub tls_memory_bytes: usize,
    /// How long before an access token expires it is renewed (at most a quarter of its life).
    pub refresh_ahead_ms: u32,
}

impl Drop for LwaSettings {
    fn drop(&mut self) {
        crate::client::secret::wipe_string(&mut self.client_secret);
        crate::client::secret::wipe_string(&mut self.refresh_token);
    }
}

impl LwaSettings {
    /// The fixed buffers (besides the TLS pool), in the order [`LwaMemory::buffers`] holds them:
    /// request, response, refresh token, client secret, device code, authorization code,
    /// redirect URI, the client id it goes with, PKCE verifier. Multiples of 16, so that carving
    /// them one by one takes exactly their sum.
    pub const BUFFER_SIZES: [usize; 9] = [REQUEST_BYTES, RESPONSE_BYTES, REFRESH_TOKEN_MAX, CLIENT_SECRET_MAX, DEVICE_CODE_MAX, AUTH_CODE_MAX, REDIRECT_URI_MAX, CLIENT_ID_MAX, wire::VERIFIER_LEN];

    /// Bytes the fixed buffers take.
    pub fn buffer_bytes() -> usize {
        Self::BUFFER_SIZES.iter().sum()
    }

    /// Whether the settings can be used; why not otherwise.
    pub fn check(&self) -> Result<(), String> {
        let endpoint = parse_endpoint(&self.url).ok_or_else(|| format!("lwa.url must be https://host[:port][/path], got {:?}", self.url))?;
        if endpoint.path.len() > URL_PATH_MAX || endpoint.host.len() >= crate::transport::tls_session::HOST_MAX {
            return Err("lwa.url too long".into());
        }
        let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if self.client_id.is_empty() || self.client_id.len() > CLIENT_ID_MAX || !printable(&self.client_id) {
            return Err("lwa.client_id missing, longer than 256 bytes or not printable ASCII".into());
        }
        if self.client_secret.len() > CLIENT_SECRET_MAX || !printable(&self.client_secret) {
            return Err("lwa.client_secret longer than 512 bytes or not printable ASCII".into());
        }
        if self.refresh_token.len() > REFRESH_TOKEN_MAX || !printable(&self.refresh_token) {
            return Err("lwa.refresh_token longer than 2048 bytes or not printable ASCII".into());
        }
        Ok(())
    }
}

/// The memory Login with Amazon uses, carved at creation.
pub struct LwaMemory {
    /// mbedTLS's pool for the token endpoint's session. The client owns it and drops it after
    /// its TLS configuration: verifying a server caches values in the shared CA certificates
    /// (an RSA key's Montgomery constant), drawn from the pool of the session that verified
    /// first, and freed only with the certificates.
    pub pool: NonNull<Pool>,
    /// One buffer per entry of [`LwaSettings::BUFFER_SIZES`], in its order.
    pub buffers: Vec<Buf>,
}

/// What sign-in is after.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Goal {
    /// Nothing to do until the host acts (signed out, or refused for good).
    Idle,
    /// Access tokens from the refresh token, renewed ahead of expiry.
    Refresh,
    /// Code-based linking.
    Link,
    /// The authorization code from the companion app.
    Exchange,
}

/// The request under way.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Grant {
    Refresh,
    CodePair,
    DeviceToken,
    AuthorizationCode,
}

impl Grant {
    fn name(self) -> &'static str {
        match self {
            Grant::Refresh => "token refresh",
            Grant::CodePair => "code pair request",
            Grant::DeviceToken => "code pair poll",
            Grant::AuthorizationCode => "authorization code exchange",
        }
    }
}

/// Code-based linking in progress.
struct Link {
    product_id: heapless::String<LINK_FIELD_MAX>,
    serial_number: heapless::String<LINK_FIELD_MAX>,
    /// A code pair is out, valid until `expires_at`, polled every `interval_ms`.
    have_pair: bool,
    /// The pair's user code (no secret: the user reads it), sent with the device code.
    user_code: heapless::String<64>,
    interval_ms: u64,
    expires_at: u64,
}

/// Login with Amazon for one client.
pub struct Lwa {
    endpoint: Endpoint,
    client_id: String,
    http: HttpsExchange,
    refresh_token: Secret,
    client_secret: Secret,
    device_code: Secret,
    auth_code: Secret,
    redirect_uri: Secret,
    code_client_id: Secret,
    verifier: Secret,
    goal: Goal,
    in_flight: Option<Grant>,
    /// When the goal's next request goes out.
    next_at: Option<u64>,
    backoff: Backoff,
    link: Option<Link>,
    refresh_ahead_ms: u32,
    timeout_ms: u32,
    /// AVS rejected the token and the refresh asked for then has not come yet.
    refreshing_for_rejection: bool,
    /// The token in use came from such a refresh and AVS has not accepted it yet: another
    /// rejection waits for the back-off instead of refreshing at once.
    fresh_after_rejection: bool,
    /// Login with Amazon refused the credentials for good: nothing is retried (not at a 403,
    /// not at `connect`) until the host gives new ones or signs in again.
    refused: bool,
}


impl Lwa {
    /// Login with Amazon over `memory` (see [`LwaSettings::buffer_bytes`]); the settings' secrets
    /// are copied into their buffers and wiped.
    pub fn new(mut settings: LwaSettings, memory: LwaMemory, timeout_ms: u32, backoff: Backoff) -> Result<Self, (AvsStatus, String)> {
        settings.check().map_err(|why| (AvsStatus::BadConfig, why))?;
        let endpoint = parse_endpoint(&settings.url).expect("checked");
        let pool = memory.pool;
        if memory.buffers.len() != LwaSettings::BUFFER_SIZES.len() {
            return Err((AvsStatus::BadConfig, "lwa memory: one buffer per size".to_string()));
        }
        let mut parts = memory.buffers.into_iter();
        let mut next = || parts.next().expect("one part per size");
        let http = HttpsExchange::new(pool, next(), next());
        let mut lwa = Lwa {
            endpoint,
            client_id: core::mem::take(&mut settings.client_id),
            http,
            refresh_token: Secret::new(next()),
            client_secret: Secret::new(next()),
            device_code: Secret::new(next()),
            auth_code: Secret::new(next()),
            redirect_uri: Secret::new(next()),
            code_client_id: Secret::new(next()),
            verifier: Secret::new(next()),
            goal: Goal::Idle,
            in_flight: None,
            next_at: None,
            backoff,
            link: None,
            refresh_ahead_ms: settings.refresh_ahead_ms,
            timeout_ms,
            refreshing_for_rejection: false,
            fresh_after_rejection: false,
            refused: false,
        };
        // The settings' copies are wiped when they drop, here.
        lwa.client_secret.set(settings.client_secret.as_bytes()).and_then(|_| lwa.refresh_token.set(settings.refresh_token.as_bytes())).map_err(|e| (e, "lwa secrets do not fit".to_string()))?;
        Ok(lwa)
    }

    pub fn refresh_ahead_ms(&self) -> u32 {
        self.refresh_ahead_ms
    }

    /// At `connect`: the refresh token from storage when none was given; a token is fetched
    /// unless one is being fetched already. Returns the state that follows.
    pub fn on_connect(&mut self, has_token: bool, cx: &mut AuthCx) -> AuthState {
        if self.refresh_token.is_empty() {
            if let Some(storage) = cx.storage.as_deref_mut() {
                let mut buf = [0u8; REFRESH_TOKEN_MAX];
                if let Some(n) = storage.load(REFRESH_TOKEN_KEY, &mut buf) {
                    if self.refresh_token.set(&buf[..n]).is_err() {
                        log!(cx.host, cx.log_level, LogLevel::Warn, "the stored refresh token is unusable; ignored");
                    } else {
                        log!(cx.host, cx.log_level, LogLevel::Info, "refresh token from storage");
                    }
                }
                wipe(&mut buf);
            }
        }
        match self.goal {
            Goal::Link => return AuthState::Linking,
            Goal::Exchange => return AuthState::Authorizing,
            Goal::Idle if self.refused => return AuthState::AuthorizationRequired,
            Goal::Refresh if self.next_at.is_some() || self.in_flight.is_some() => {
                return if has_token { AuthState::Authorized } else { AuthState::Authorizing };
            }
            _ => {}
        }
        if self.refresh_token.is_empty() {
            return if has_token { AuthState::Authorized } else { AuthState::SignedOut };
        }
        // The lifetime of a token given with the refresh token is unknown: get one now.
        self.aim(Goal::Refresh, cx.now);
        if has_token {
            AuthState::Authorized
        } else {
            AuthState::Authorizing
        }
    }

    /// Starts working towards `goal` now (a request for another goal is dropped).
    fn aim(&mut self, goal: Goal, now: u64) {
        if self.goal != goal && self.in_flight.is_some() {
            self.http.finish(false);
            self.in_flight = None;
        }
        self.goal = goal;
        self.refused = false;
        self.backoff.reset();
        if self.in_flight.is_none() {
            self.next_at = Some(now);
        }
    }

    /// AVS rejected the token: refresh at once, or after the back-off when the token was
    /// itself refreshed for a rejection and never accepted.
    pub fn token_rejected(&mut self, cx: &mut AuthCx) -> AuthState {
        match self.goal {
            // Signing in already: the token it brings replaces the rejected one.
            Goal::Link => return AuthState::Linking,
            Goal::Exchange => return AuthState::Authorizing,
            // Refused for good: nothing is asked of Login with Amazon until the host acts.
            Goal::Idle if self.refused => return AuthState::AuthorizationRequired,
            _ => {}
        }
        if self.refresh_token.is_empty() {
            // A token the host gave, with nothing here to renew it: the host is asked.
            log!(cx.host, cx.log_level, LogLevel::Warn, "access token rejected and no refresh token to renew it");
            self.goal = Goal::Idle;
            return AuthState::TokenNeeded;
        }
        self.goal = Goal::Refresh;
        self.refreshing_for_rejection = true;
        if self.in_flight == Some(Grant::Refresh) {
            return AuthState::Authorizing;
        }
        let delay = if self.fresh_after_rejection { self.backoff.next_delay_ms() } else { 0 };
        if delay > 0 {
            log!(cx.host, cx.log_level, LogLevel::Warn, "a freshly refreshed access token was rejected too; refreshing again in {delay} ms");
        } else {
            log!(cx.host, cx.log_level, LogLevel::Info, "access token rejected; refreshing it");
        }
        self.next_at = Some(cx.now.saturating_add(u64::from(delay)));
        AuthState::Authorizing
    }

    /// AVS accepted the token: the back-off of refreshes after rejections starts again.
    pub fn token_accepted(&mut self) {
        if core::mem::take(&mut self.fresh_after_rejection) {
            self.backoff.reset();
        }
    }

    /// Moves on: the state to report (if it changed, with its reason) and whether a new access
    /// token is in the header.
    pub fn poll(&mut self, cx: &mut AuthCx) -> (Option<AuthState>, AvsStatus, bool) {
        let mut state = None;
        let mut reason = AvsStatus::Ok;
        let mut granted = false;
        // An answer can lead straight to the next request (a new code pair): a few rounds.
        for _ in 0..3 {
            if let Some(grant) = self.in_flight {
                match self.http.poll(cx.now) {
                    Progress::Pending => break,
                    Progress::Answered(status) => {
                        self.in_flight = None;
                        let (s, r, g) = self.on_answer(grant, status, cx);
                        self.http.finish(true);
                        state = s.or(state);
                        reason = r;
                        granted |= g;
                    }
                    Progress::Failed(e) => {
                        self.in_flight = None;
                        log!(cx.host, cx.log_level, LogLevel::Warn, "Login with Amazon {}: {e}", grant.name());
                        self.retry_later(cx);
                    }
                    Progress::Idle => self.in_flight = None,
                }
            }
            match self.next_at {
                Some(at) if at <= cx.now && self.in_flight.is_none() => {
                    self.next_at = None;
                    if let Some((s, r)) = self.send_next(cx) {
                        state = Some(s);
                        reason = r;
                    }
                }
                _ => break,
            }
        }
        (state, reason, granted)
    }

    /// Sends the goal's next request; a state (and why) when the goal cannot go on.
    fn send_next(&mut self, cx: &mut AuthCx) -> Option<(AuthState, AvsStatus)> {
        let grant = match self.goal {
            Goal::Idle => return None,
            Goal::Refresh if self.refresh_token.is_empty() => {
                self.goal = Goal::Idle;
                return Some((AuthState::SignedOut, AvsStatus::Ok));
            }
            Goal::Refresh => Grant::Refresh,
            Goal::Link => match self.link.as_ref() {
                Some(l) if l.have_pair && cx.now < l.expires_at => Grant::DeviceToken,
                Some(_) => Grant::CodePair,
                None => {
                    self.goal = Goal::Idle;
                    return None;
                }
            },
            Goal::Exchange => Grant::AuthorizationCode,
        };
        if grant == Grant::CodePair && self.link.as_ref().is_some_and(|l| l.have_pair) {
            log!(cx.host, cx.log_level, LogLevel::Info, "the code pair expired unused; requesting a new one");
        }
        let mut path: heapless::String<{ URL_PATH_MAX + 32 }> = heapless::String::new();
        let _ = write!(path, "{}{}", self.endpoint.path, if grant == Grant::CodePair { CODE_PAIR_PATH } else { TOKEN_PATH });
        let Lwa { http, endpoint, client_id, refresh_token, client_secret, device_code, auth_code, redirect_uri, code_client_id, verifier, link, .. } = self;
        let target = (endpoint.host.as_str(), endpoint.port, endpoint.authority.as_str());
        let started = http.start(
            cx.tls,
            cx.net,
            target,
            &path,
            |out| match grant {
                Grant::Refresh => wire::write_refresh_request(out, client_id, client_secret.get(), refresh_token.as_str()),
                Grant::CodePair => {
                    let l = link.as_ref().expect("linking");
                    wire::write_code_pair_request(out, client_id, &l.product_id, &l.serial_number)
                }
                Grant::DeviceToken => wire::write_device_token_request(out, device_code.as_str(), link.as_ref().map_or("", |l| l.user_code.as_str())),
                Grant::AuthorizationCode => wire::write_authorization_code_request(out, auth_code.as_str(), redirect_uri.as_str(), code_client_id.as_str(), verifier.as_bytes()),
            },
            cx.now,
            self.timeout_ms,
        );
        match started {
            Ok(()) => {
                log!(cx.host, cx.log_level, LogLevel::Info, "-> Login with Amazon {} ({})", grant.name(), self.endpoint.authority);
                self.in_flight = Some(grant);
            }
            Err(e) => {
                log!(cx.host, cx.log_level, LogLevel::Warn, "Login with Amazon {}: {e}", grant.name());
                self.retry_later(cx);
            }
        }
        None
    }

    /// A transient failure: the same step again after a growing, jittered delay.
    fn retry_later(&mut self, cx: &mut AuthCx) {
        let delay = self.backoff.next_delay_ms();
        log!(cx.host, cx.log_level, LogLevel::Info, "retrying Login with Amazon in {delay} ms (attempt {})", self.backoff.failures() + 1);
        self.next_at = Some(cx.now.saturating_add(u64::from(delay)));
    }

    /// What an answer means; see the module docs.
    fn on_answer(&mut self, grant: Grant, status: u16, cx: &mut AuthCx) -> (Option<AuthState>, AvsStatus, bool) {
        if status == 200 {
            return match grant {
                Grant::CodePair => self.on_code_pair(cx),
                _ => self.on_tokens(grant, cx),
            };
        }
        let error = wire::parse_error_response(self.http.body());
        let (kind, code) = error.map_or((OAuthErrorKind::Other, ""), |e| (e.kind, e.code));
        // For the log: the code as far as it is short, printable ASCII (it comes from the server).
        let mut code_text: heapless::String<48> = heapless::String::new();
        for c in code.chars().take_while(|c| c.is_ascii_graphic()) {
            if code_text.push(c).is_err() {
                break;
            }
        }
        if status == 429 || status >= 500 || matches!(kind, OAuthErrorKind::ServerError | OAuthErrorKind::TemporarilyUnavailable) {
            log!(cx.host, cx.log_level, LogLevel::Warn, "Login with Amazon {}: HTTP {status} {code_text}", grant.name());
            self.retry_later(cx);
            return (None, AvsStatus::Ok, false);
        }
        match (grant, kind) {
            (Grant::DeviceToken, OAuthErrorKind::AuthorizationPending) => {
                self.backoff.reset();
                let interval = self.link.as_ref().map_or(5000, |l| l.interval_ms);
                log!(cx.host, cx.log_level, LogLevel::Debug, "code pair not entered yet; polling again in {interval} ms");
                self.next_at = Some(cx.now.saturating_add(interval));
                (None, AvsStatus::Ok, false)
            }
            (Grant::DeviceToken, OAuthErrorKind::SlowDown) => {
                let link = self.link.as_mut().expect("linking");
                link.interval_ms = (link.interval_ms * 2).min(MAX_POLL_INTERVAL_MS);
                let interval = link.interval_ms;
                log!(cx.host, cx.log_level, LogLevel::Info, "asked to slow down; polling every {interval} ms");
                self.next_at = Some(cx.now.saturating_add(interval));
                (None, AvsStatus::Ok, false)
            }
            (Grant::DeviceToken, OAuthErrorKind::InvalidCodePair | OAuthErrorKind::ExpiredToken) => {
                log!(cx.host, cx.log_level, LogLevel::Info, "the code pair is no longer valid ({code_text}); requesting a new one");
                self.device_code.clear();
                if let Some(l) = self.link.as_mut() {
                    l.have_pair = false;
                }
                self.next_at = Some(cx.now);
                (None, AvsStatus::Ok, false)
            }
            (_, k) if k.is_permanent() || k == OAuthErrorKind::InvalidRequest => {
                log!(cx.host, cx.log_level, LogLevel::Error, "Login with Amazon refused the {} for good: HTTP {status} {code_text}; sign the device in again", grant.name());
                self.give_up(grant, kind, cx);
                (Some(AuthState::AuthorizationRequired), AvsStatus::AuthorizationRequired, false)
            }
            _ => {
                log!(cx.host, cx.log_level, LogLevel::Warn, "Login with Amazon {}: HTTP {status} {code_text}", grant.name());
                self.retry_later(cx);
                (None, AvsStatus::Ok, false)
            }
        }
    }

    /// Credentials refused for good: nothing more until the host acts. A refused refresh token
    /// is forgotten (here and in storage), so that the next start asks for sign-in.
    fn give_up(&mut self, grant: Grant, kind: OAuthErrorKind, cx: &mut AuthCx) {
        self.goal = Goal::Idle;
        self.refused = true;
        self.next_at = None;
        self.link = None;
        self.device_code.clear();
        self.auth_code.clear();
        self.redirect_uri.clear();
        if grant == Grant::Refresh && kind == OAuthErrorKind::InvalidGrant {
            self.refresh_token.clear();
            if let Some(storage) = cx.storage.as_deref_mut() {
                let _ = storage.erase(REFRESH_TOKEN_KEY);
            }
        }
        if grant == Grant::AuthorizationCode {
            self.forget_verifier(cx);
        }
    }

    fn forget_verifier(&mut self, cx: &mut AuthCx) {
        self.verifier.clear();
        if let Some(storage) = cx.storage.as_deref_mut() {
            let _ = storage.erase(CODE_VERIFIER_KEY);
        }
    }

    fn on_code_pair(&mut self, cx: &mut AuthCx) -> (Option<AuthState>, AvsStatus, bool) {
        let parsed = wire::parse_code_pair_response(self.http.body()).map(|p| (p.user_code, p.device_code, p.verification_uri, p.expires_in, p.interval));
        let (user_code, device_code, uri, expires_in, interval) = match parsed {
            Ok(p) => p,
            Err(e) => {
                log!(cx.host, cx.log_level, LogLevel::Warn, "Login with Amazon code pair: {e}");
                self.retry_later(cx);
                return (None, AvsStatus::Ok, false);
            }
        };
        let mut shown_code: heapless::String<64> = heapless::String::new();
        let mut shown_uri: heapless::String<512> = heapless::String::new();
        if self.device_code.set(device_code.as_bytes()).is_err() || shown_code.push_str(user_code).is_err() || shown_uri.push_str(uri).is_err() {
            log!(cx.host, cx.log_level, LogLevel::Warn, "Login with Amazon code pair: a code or the URI is too long");
            self.device_code.clear();
            self.retry_later(cx);
            return (None, AvsStatus::Ok, false);
        }
        let Some(link) = self.link.as_mut() else { return (None, AvsStatus::Ok, false) };
        link.have_pair = true;
        link.interval_ms = u64::from(interval.max(1)) * 1000;
        link.expires_at = cx.now.saturating_add(u64::from(expires_in) * 1000);
        link.user_code = shown_code.clone();
        self.backoff.reset();
        self.next_at = Some(cx.now.saturating_add(link.interval_ms));
        log!(cx.host, cx.log_level, LogLevel::Info, "code pair received: valid {expires_in} s, polled every {interval} s");
        cx.host.code_pair(&shown_code, &shown_uri, expires_in);
        (Some(AuthState::Linking), AvsStatus::Ok, false)
    }

    fn on_tokens(&mut self, grant: Grant, cx: &mut AuthCx) -> (Option<AuthState>, AvsStatus, bool) {
        let body = self.http.body();
        let parsed = wire::parse_token_response(body);
        let (access, refresh, expires_in) = match parsed {
            Ok(t) => (t.access_token, t.refresh_token, t.expires_in),
            Err(e) => {
                log!(cx.host, cx.log_level, LogLevel::Warn, "Login with Amazon {}: {e}", grant.name());
                self.retry_later(cx);
                return (None, AvsStatus::Ok, false);
            }
        };
        if let Err(e) = cx.header.set(access) {
            log!(cx.host, cx.log_level, LogLevel::Warn, "Login with Amazon {}: unusable access token ({})", grant.name(), e.text());
            self.retry_later(cx);
            return (None, AvsStatus::Ok, false);
        }
        let rotated = match refresh {
            Some(rt) if rt.as_bytes() != self.refresh_token.as_bytes() => match self.refresh_token.set(rt.as_bytes()) {
                Ok(()) => true,
                Err(_) => {
                    log!(cx.host, cx.log_level, LogLevel::Error, "Login with Amazon sent a refresh token that does not fit ({} bytes); keeping the old one", rt.len());
                    false
                }
            },
            _ => false,
        };
        if rotated {
            match cx.storage.as_deref_mut() {
                Some(storage) => {
                    if let Err(e) = storage.store(REFRESH_TOKEN_KEY, self.refresh_token.as_bytes()) {
                        log!(cx.host, cx.log_level, LogLevel::Warn, "storing the new refresh token failed: {}", e.text());
                    }
                }
                None => log!(cx.host, cx.log_level, LogLevel::Warn, "a new refresh token, but no storage to keep it across restarts (avs_client_set_storage)"),
            }
        }
        if self.refresh_token.is_empty() {
            log!(cx.host, cx.log_level, LogLevel::Warn, "Login with Amazon gave no refresh token: this access token cannot be renewed");
        }
        match grant {
            Grant::AuthorizationCode => {
                self.auth_code.clear();
                self.redirect_uri.clear();
                self.forget_verifier(cx);
            }
            Grant::DeviceToken => {
                self.device_code.clear();
                self.link = None;
            }
            _ => {}
        }
        // A token fetched because AVS rejected the last one keeps the back-off until AVS
        // accepts it: a product AVS refuses every token of gets ever longer pauses, not a loop.
        self.fresh_after_rejection = core::mem::take(&mut self.refreshing_for_rejection);
        if !self.fresh_after_rejection {
            self.backoff.reset();
        }
        self.refused = false;
        self.goal = if self.refresh_token.is_empty() { Goal::Idle } else { Goal::Refresh };
        let delay = renew_delay_ms(expires_in, self.refresh_ahead_ms);
        self.next_at = (self.goal == Goal::Refresh).then(|| cx.now.saturating_add(delay));
        log!(
            cx.host,
            cx.log_level,
            LogLevel::Info,
            "<- Login with Amazon: access token valid {expires_in} s, renewed in {} s{}",
            delay / 1000,
            if rotated { "; new refresh token kept" } else { "" }
        );
        (Some(AuthState::Authorized), AvsStatus::Ok, true)
    }

    /// Code-based linking for `product_id` and `serial_number`: a code pair now.
    pub fn start_linking(&mut self, product_id: &str, serial_number: &str, cx: &mut AuthCx) -> Result<(), AvsStatus> {
        let ok = |s: &str| !s.is_empty() && s.len() <= LINK_FIELD_MAX && s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !ok(product_id) || !ok(serial_number) {
            return Err(AvsStatus::InvalidArgument);
        }
        let mut link = Link { product_id: heapless::String::new(), serial_number: heapless::String::new(), have_pair: false, user_code: heapless::String::new(), interval_ms: 5000, expires_at: 0 };
        let _ = link.product_id.push_str(product_id);
        let _ = link.serial_number.push_str(serial_number);
        self.device_code.clear();
        self.link = Some(link);
        self.aim(Goal::Link, cx.now);
        log!(cx.host, cx.log_level, LogLevel::Info, "code-based linking started");
        Ok(())
    }

    /// A new PKCE verifier, kept in memory and in storage; its S256 challenge into `out`.
    pub fn code_challenge(&mut self, out: &mut [u8; wire::CHALLENGE_LEN], cx: &mut AuthCx) -> Result<(), AvsStatus> {
        let mut random = [0u8; 48];
        fill_random(&mut random)?;
        let mut verifier = [0u8; wire::VERIFIER_LEN];
        wire::write_code_verifier(&random, &mut verifier);
        wipe(&mut random);
        let kept = self.verifier.set(&verifier);
        wire::code_challenge_s256(&verifier, out);
        wipe(&mut verifier);
        kept?;
        match cx.storage.as_deref_mut() {
            Some(storage) => storage.store(CODE_VERIFIER_KEY, self.verifier.as_bytes())?,
            None => log!(cx.host, cx.log_level, LogLevel::Warn, "no storage: the code verifier lasts only until the client is freed"),
        }
        Ok(())
    }

    /// Exchanges `code` with the verifier of the last challenge (from memory or storage).
    pub fn authorize(&mut self, code: &str, client_id: Option<&str>, redirect_uri: &str, cx: &mut AuthCx) -> Result<(), AvsStatus> {
        if self.verifier.is_empty() {
            if let Some(storage) = cx.storage.as_deref_mut() {
                let mut buf = [0u8; wire::VERIFIER_LEN];
                if let Some(n) = storage.load(CODE_VERIFIER_KEY, &mut buf) {
                    let _ = self.verifier.set(&buf[..n]);
                }
                wipe(&mut buf);
            }
        }
        if self.verifier.is_empty() {
            return Err(AvsStatus::WrongState);
        }
        if code.is_empty() || redirect_uri.is_empty() || client_id.is_some_and(str::is_empty) {
            return Err(AvsStatus::InvalidArgument);
        }
        self.auth_code.set(code.as_bytes())?;
        self.redirect_uri.set(redirect_uri.as_bytes())?;
        self.code_client_id.set(client_id.unwrap_or(&self.client_id).as_bytes())?;
        self.aim(Goal::Exchange, cx.now);
        log!(cx.host, cx.log_level, LogLevel::Info, "exchanging an authorization code");
        Ok(())
    }

    /// A refresh token from the host: kept (storage too) and used at once.
    pub fn set_refresh_token(&mut self, token: &str, cx: &mut AuthCx) -> Result<(), AvsStatus> {
        if token.is_empty() {
            return Err(AvsStatus::InvalidArgument);
        }
        self.refresh_token.set(token.as_bytes())?;
        if let Some(storage) = cx.storage.as_deref_mut() {
            if let Err(e) = storage.store(REFRESH_TOKEN_KEY, self.refresh_token.as_bytes()) {
                log!(cx.host, cx.log_level, LogLevel::Warn, "storing the refresh token failed: {}", e.text());
            }
        }
        self.aim(Goal::Refresh, cx.now);
        Ok(())
    }

    pub fn fd(&self) -> Option<i32> {
        self.http.fd()
    }

    pub fn wants_write(&self) -> bool {
        self.http.wants_write()
    }

    pub fn wake_at(&self, now: u64) -> Option<u64> {
        // While a request is under way, the next one waits for its answer.
        let (http, next) = match self.in_flight {
            Some(_) => (self.http.wake_at(now), None),
            None => (None, self.next_at),
        };
        match (http, next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

}


/// Random bytes from the OS, for PKCE verifiers.
fn fill_random(out: &mut [u8]) -> Result<(), AvsStatus> {
    let mut filled = 0;
    while filled < out.len() {
        // SAFETY: getrandom writes at most the given length into the buffer.
        let n = unsafe { libc::getrandom(out[filled..].as_mut_ptr() as *mut libc::c_void, out.len() - filled, 0) };
        if n <= 0 {
            return Err(AvsStatus::NoMemory);
        }
        filled += n as usize;
    }
    Ok(())
}
