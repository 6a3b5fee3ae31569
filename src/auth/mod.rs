//! Sign-in: where the access token every AVS request carries comes from, and when it is renewed.
//!
//! - The host brings it (`avs_client_set_token`, with its lifetime if it wants reminding): it is
//!   asked for a new one when AVS rejects it ([`AuthState::TokenNeeded`], `TokenRejected`) or
//!   shortly before it expires (`TokenExpiring`).
//! - Login with Amazon inside the library ([`lwa::Lwa`]): a refresh token (given, kept in the
//!   host's storage, or obtained by code-based linking or an authorization code with PKCE) is
//!   exchanged for access tokens at the token endpoint, over a TLS session of its own in the same
//!   poll loop, ahead of expiry and after a rejection.
//!
//! The engine asks [`Auth`] whether there is a token to connect with, tells it when AVS accepted
//! or rejected one, and drives it from `poll`; the token itself lives in the engine's
//! `authorization` header buffer, which [`AuthCx::header`] lets this module replace.

pub mod lwa;
pub mod secret;

use crate::client::secret::AuthHeader;
use crate::host::{log, Host};
use crate::interfaces::storage::Storage;
use crate::status::{AuthState, AvsStatus, LogLevel};
use crate::transport::io::Network;
use crate::transport::tls::TlsConfig;

/// What sign-in may use while it runs (one poll, or one host call).
pub struct AuthCx<'a> {
    pub now: u64,
    pub log_level: LogLevel,
    pub host: &'a mut dyn Host,
    pub storage: Option<&'a mut (dyn Storage + 'static)>,
    pub header: &'a mut AuthHeader,
    pub tls: &'a TlsConfig,
    pub net: &'a mut dyn Network,
}

/// Sign-in, for either source of tokens.
pub struct Auth {
    /// Boxed: a client without Login with Amazon does not carry its state in its handle.
    lwa: Option<Box<lwa::Lwa>>,
    state: AuthState,
    /// An access token is in the header.
    has_token: bool,
    /// Host-supplied tokens: when to ask for the next one (its expiry less the head start).
    host_renew_at: Option<u64>,
    refresh_ahead_ms: u32,
}

impl Auth {
    /// Sign-in with host-supplied tokens only; `has_token` when one was given at creation.
    pub fn host_supplied(has_token: bool, refresh_ahead_ms: u32) -> Self {
        Auth { lwa: None, state: AuthState::None, has_token, host_renew_at: None, refresh_ahead_ms }
    }

    /// Sign-in through Login with Amazon (a host-supplied token may be set as well).
    pub fn with_lwa(lwa: lwa::Lwa, has_token: bool) -> Self {
        let ahead = lwa.refresh_ahead_ms();
        Auth { lwa: Some(Box::new(lwa)), state: AuthState::None, has_token, host_renew_at: None, refresh_ahead_ms: ahead }
    }

    /// Whether the library gets tokens itself.
    pub fn uses_lwa(&self) -> bool {
        self.lwa.is_some()
    }

    /// Whether there is a token to send.
    pub fn has_token(&self) -> bool {
        self.has_token
    }

    /// Where sign-in stands.
    pub fn state(&self) -> AuthState {
        self.state
    }

    fn set_state(&mut self, state: AuthState, reason: AvsStatus, host: &mut dyn Host) {
        if self.state != state {
            self.state = state;
            host.auth_state(state, reason);
        }
    }

    /// The host set a token: a lifetime of `expires_in_s` (0: unknown) has the host asked for
    /// the next one shortly before it ends.
    pub fn host_token_set(&mut self, cx: &mut AuthCx) {
        self.has_token = true;
        self.host_renew_at = None;
        let state = match (self.lwa.is_some(), self.state) {
            (false, _) => AuthState::None,
            // Linking goes on; its token will replace this one.
            (true, AuthState::Linking) => AuthState::Linking,
            (true, _) => AuthState::Authorized,
        };
        self.set_state(state, AvsStatus::Ok, cx.host);
    }

    /// The lifetime of the host's current token.
    pub fn host_token_expiry(&mut self, expires_in_s: u32, now: u64) {
        self.host_renew_at = (expires_in_s > 0).then(|| now.saturating_add(renew_delay_ms(expires_in_s, self.refresh_ahead_ms)));
    }

    /// `avs_client_connect`: Login with Amazon reads its refresh token (given, or kept in
    /// storage) and gets an access token if it has none.
    pub fn on_connect(&mut self, cx: &mut AuthCx) {
        if let Some(lwa) = self.lwa.as_mut() {
            let state = lwa.on_connect(self.has_token, cx);
            self.set_state(state, AvsStatus::Ok, cx.host);
        }
    }

    /// AVS answered 403. Login with Amazon refreshes (once per rejection: a second 403 right
    /// after a refresh waits for the back-off); the host is asked for a new token otherwise.
    /// Returns whether the library is getting one itself.
    pub fn token_rejected(&mut self, cx: &mut AuthCx) -> bool {
        match self.lwa.as_mut() {
            Some(lwa) => {
                let state = lwa.token_rejected(cx);
                self.has_token = false;
                let reason = if state == AuthState::AuthorizationRequired { AvsStatus::AuthorizationRequired } else { AvsStatus::TokenRejected };
                if state == AuthState::TokenNeeded {
                    // Asked again even when already asked: the reason changed.
                    self.state = AuthState::None;
                }
                self.set_state(state, reason, cx.host);
                matches!(state, AuthState::Authorizing | AuthState::Linking)
            }
            None => {
                // Asked again even when already asked (for an expiring token): the reason changed.
                self.state = AuthState::None;
                self.set_state(AuthState::TokenNeeded, AvsStatus::TokenRejected, cx.host);
                false
            }
        }
    }

    /// AVS accepted the token (the connection synchronized).
    pub fn token_accepted(&mut self) {
        if let Some(lwa) = self.lwa.as_mut() {
            lwa.token_accepted();
        }
    }

    /// Moves sign-in on; true when a new access token was put in the header.
    pub fn poll(&mut self, cx: &mut AuthCx) -> bool {
        if let Some(at) = self.host_renew_at {
            if cx.now >= at {
                self.host_renew_at = None;
                log!(cx.host, cx.log_level, LogLevel::Info, "the access token expires soon; asking the host for a new one");
                self.state = AuthState::None;
                self.set_state(AuthState::TokenNeeded, AvsStatus::TokenExpiring, cx.host);
            }
        }
        let Some(lwa) = self.lwa.as_mut() else { return false };
        let (state, reason, granted) = lwa.poll(cx);
        if granted {
            self.has_token = true;
        }
        if let Some(state) = state {
            self.set_state(state, reason, cx.host);
        }
        granted
    }

    /// Code-based linking for `product_id` and `serial_number`.
    pub fn start_linking(&mut self, product_id: &str, serial_number: &str, cx: &mut AuthCx) -> Result<(), AvsStatus> {
        let lwa = self.lwa.as_mut().ok_or(AvsStatus::WrongState)?;
        lwa.start_linking(product_id, serial_number, cx)?;
        self.set_state(AuthState::Linking, AvsStatus::Ok, cx.host);
        Ok(())
    }

    /// A new PKCE verifier (kept in storage); its S256 challenge into `out`.
    pub fn code_challenge(&mut self, out: &mut [u8; avs_core::lwa::CHALLENGE_LEN], cx: &mut AuthCx) -> Result<(), AvsStatus> {
        self.lwa.as_mut().ok_or(AvsStatus::WrongState)?.code_challenge(out, cx)
    }

    /// Exchanges an authorization code (from the companion app) for tokens.
    pub fn authorize(&mut self, code: &str, client_id: Option<&str>, redirect_uri: &str, cx: &mut AuthCx) -> Result<(), AvsStatus> {
        let lwa = self.lwa.as_mut().ok_or(AvsStatus::WrongState)?;
        lwa.authorize(code, client_id, redirect_uri, cx)?;
        self.set_state(AuthState::Authorizing, AvsStatus::Ok, cx.host);
        Ok(())
    }

    /// A refresh token from the host: kept, and used at once.
    pub fn set_refresh_token(&mut self, token: &str, cx: &mut AuthCx) -> Result<(), AvsStatus> {
        let lwa = self.lwa.as_mut().ok_or(AvsStatus::WrongState)?;
        lwa.set_refresh_token(token, cx)?;
        let state = if self.has_token { AuthState::Authorized } else { AuthState::Authorizing };
        self.set_state(state, AvsStatus::Ok, cx.host);
        Ok(())
    }

    /// The socket the token exchange waits on, if one is under way.
    pub fn fd(&self) -> Option<i32> {
        self.lwa.as_ref().and_then(|l| l.fd())
    }

    /// Whether the token exchange waits for its socket to become writable.
    pub fn wants_write(&self) -> bool {
        self.lwa.as_ref().is_some_and(|l| l.wants_write())
    }

    /// When sign-in must be polled next.
    pub fn wake_at(&self, now: u64) -> Option<u64> {
        let lwa = self.lwa.as_ref().and_then(|l| l.wake_at(now));
        match (lwa, self.host_renew_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// How long after a token of `expires_in_s` to renew it: `ahead_ms` early, but never in the
/// first three quarters of a short lifetime.
pub fn renew_delay_ms(expires_in_s: u32, ahead_ms: u32) -> u64 {
    let life = u64::from(expires_in_s) * 1000;
    let ahead = u64::from(ahead_ms).min(life / 4);
    life - ahead
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_comes_ahead_of_expiry() {
        assert_eq!(renew_delay_ms(3600, 600_000), 3_000_000);
        assert_eq!(renew_delay_ms(8, 600_000), 6_000);
        assert_eq!(renew_delay_ms(1, 600_000), 750);
        assert_eq!(renew_delay_ms(u32::MAX, u32::MAX), u64::from(u32::MAX) * 1000 - u64::from(u32::MAX));
    }
}
