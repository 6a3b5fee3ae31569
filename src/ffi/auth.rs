//! The C surface of sign-in: Login with Amazon's settings (`avs_config.lwa`), the host's sign-in
//! callbacks, code-based linking, remote authorization, and the host-supplied token's lifetime.

use std::os::raw::{c_char, c_void};

use crate::auth::lwa::{LwaSettings, DEFAULT_REFRESH_AHEAD_MS, DEFAULT_TLS_MEMORY_BYTES, DEFAULT_URL};
use crate::ffi::client::{arg_str, callback_host, with, AvsClient};
use crate::ffi::interfaces::{read_sized, HostStruct};
use crate::ffi::types::AvsStr;
use crate::status::{AvsAuthState, AvsStatus};

/// Login with Amazon settings (`avs_config.lwa`): with them the library gets its access tokens
/// itself, over the same TLS configuration, CA set and verification as AVS, inside
/// `avs_client_poll`. Fill it with `avs_lwa_config_init` (which sets `size`), then set at least
/// `client_id`. Strings are copied by `avs_client_new`, and the secrets among them wiped from the
/// library's memory when replaced and when the client is freed (the host's own copies are the
/// host's to wipe).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsLwaConfig {
    /// `sizeof(avs_lwa_config)`, set by `avs_lwa_config_init`: later releases may add members.
    pub size: usize,
    /// Base URL of Login with Amazon, `https://host[:port][/path]`; NULL for
    /// `https://api.amazon.com`. Requests go to `/auth/o2/token` and `/auth/o2/create/codepair`
    /// under it.
    pub url: *const c_char,
    /// The security profile's client id.
    pub client_id: *const c_char,
    /// The security profile's client secret; NULL when it has none (devices usually have none).
    pub client_secret: *const c_char,
    /// A refresh token to start from; NULL to use the one kept in storage (`avs_client_set_storage`)
    /// or to sign in with `avs_client_start_linking` or `avs_client_authorize`. A new refresh
    /// token (obtained, or rotated by a refresh) is kept in storage under `lwa-refresh-token`.
    pub refresh_token: *const c_char,
    /// Memory for the token endpoint's TLS session, reserved at creation besides
    /// `tls_memory_bytes` (default 45056: one handshake at a time).
    pub tls_memory_bytes: u32,
    /// How long before an access token expires it is renewed (default 600000 = 10 min; never
    /// earlier than three quarters into the token's life). Also when a host-supplied token's
    /// `on_auth_state(TOKEN_NEEDED, TOKEN_EXPIRING)` comes (`avs_client_set_token_expiry`).
    pub refresh_ahead_ms: u32,
}

unsafe impl HostStruct for AvsLwaConfig {}

/// Fills `lwa` with defaults (`size` set, Amazon's URL, no credentials).
#[no_mangle]
pub unsafe extern "C" fn avs_lwa_config_init(lwa: *mut AvsLwaConfig) -> AvsStatus {
    if lwa.is_null() {
        return AvsStatus::NullArgument;
    }
    lwa.write(AvsLwaConfig {
        size: core::mem::size_of::<AvsLwaConfig>(),
        url: std::ptr::null(),
        client_id: std::ptr::null(),
        client_secret: std::ptr::null(),
        refresh_token: std::ptr::null(),
        tls_memory_bytes: DEFAULT_TLS_MEMORY_BYTES as u32,
        refresh_ahead_ms: DEFAULT_REFRESH_AHEAD_MS,
    });
    AvsStatus::Ok
}

/// The settings of `avs_config.lwa` (NULL: none). Secrets are copied into strings the client
/// wipes once it has them in its own memory.
pub(crate) unsafe fn lwa_settings(lwa: *const AvsLwaConfig) -> Result<Option<LwaSettings>, (AvsStatus, &'static str)> {
    if lwa.is_null() {
        return Ok(None);
    }
    let size = core::ptr::read_unaligned(core::ptr::addr_of!((*lwa).size));
    let cfg = read_sized(lwa, size).map_err(|e| (e, "config.lwa: size smaller than sizeof(avs_lwa_config) (call avs_lwa_config_init)"))?;
    let opt = |p: *const c_char, what: &'static str| -> Result<&str, (AvsStatus, &'static str)> {
        if p.is_null() {
            return Ok("");
        }
        arg_str(p).map_err(|e| (e, what))
    };
    // The settings exist before any secret is copied into them, so that a failure after the
    // first copy still wipes it (LwaSettings wipes its secrets when dropped).
    let mut settings = LwaSettings {
        url: String::new(),
        client_id: String::new(),
        client_secret: String::new(),
        refresh_token: String::new(),
        tls_memory_bytes: cfg.tls_memory_bytes as usize,
        refresh_ahead_ms: cfg.refresh_ahead_ms,
    };
    let url = opt(cfg.url, "config.lwa.url not UTF-8")?;
    settings.url = if url.is_empty() { DEFAULT_URL } else { url }.to_string();
    settings.client_id = opt(cfg.client_id, "config.lwa.client_id not UTF-8")?.to_string();
    settings.client_secret.push_str(opt(cfg.client_secret, "config.lwa.client_secret not UTF-8")?);
    settings.refresh_token.push_str(opt(cfg.refresh_token, "config.lwa.refresh_token not UTF-8")?);
    Ok(Some(settings))
}

/// Sign-in callbacks (`avs_client_set_auth_handler`). Both run inside `avs_client_poll` (or the
/// call whose effect they report) and must not call into the client.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsAuthHandler {
    /// Passed unchanged as the first argument.
    pub user_data: *mut c_void,
    /// Sign-in moved on; `reason` says why (`AVS_STATUS_OK` for normal progress;
    /// `AVS_STATUS_AUTHORIZATION_REQUIRED`, `AVS_STATUS_TOKEN_REJECTED`,
    /// `AVS_STATUS_TOKEN_EXPIRING`). NULL to ignore.
    pub on_auth_state: Option<unsafe extern "C" fn(user_data: *mut c_void, state: AvsAuthState, reason: AvsStatus)>,
    /// Code-based linking: show or speak "enter `user_code` at `verification_uri`"; the pair
    /// is valid for `expires_in_s` seconds, after which the library asks for a new one and calls
    /// this again. NULL to ignore (linking then cannot complete).
    pub on_code_pair: Option<unsafe extern "C" fn(user_data: *mut c_void, user_code: AvsStr, verification_uri: AvsStr, expires_in_s: u32)>,
}

unsafe impl HostStruct for AvsAuthHandler {}

/// Registers the sign-in callbacks (`size` = `sizeof(avs_auth_handler)`). Any time; the last
/// registration counts.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_auth_handler(client: *mut AvsClient, handler: *const AvsAuthHandler, size: usize) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let h = match read_sized(handler, size) {
        Ok(h) => h,
        Err(e) => return e,
    };
    with(client, |c| {
        callback_host(c).auth_handler = Some(h);
        AvsStatus::Ok
    })
}

/// Code-based linking (Login with Amazon, `avs_config.lwa`): requests a code pair for the
/// product id and device serial number, hands the user code and URI to `on_code_pair`, polls
/// until the user has entered it (honouring `slow_down`), starts over with a new pair when one
/// expires, and then keeps the tokens as for a refresh token. Works without
/// `avs_client_connect` (nothing else is connected meanwhile); connecting follows as soon as
/// tokens come when the client was asked to connect. `AVS_STATUS_WRONG_STATE` without `lwa`.
#[no_mangle]
pub unsafe extern "C" fn avs_client_start_linking(client: *mut AvsClient, product_id: *const c_char, device_serial_number: *const c_char) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let (product_id, dsn) = match (arg_str(product_id), arg_str(device_serial_number)) {
        (Ok(p), Ok(d)) => (p, d),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    with(client, |c| c.start_linking(product_id, dsn).err().unwrap_or(AvsStatus::Ok))
}

/// Remote authorization, step 1: makes a PKCE code verifier (kept in the host's storage under
/// `lwa-code-verifier`, so that it survives a restart) and writes its `S256` code challenge,
/// 43 characters and a NUL, into `out` (`out_len` at least 44). The host passes the challenge,
/// method `S256`, its product id and serial number to the companion app or website that signs
/// the user in. Each call makes a new verifier.
#[no_mangle]
pub unsafe extern "C" fn avs_client_code_challenge(client: *mut AvsClient, out: *mut c_char, out_len: usize) -> AvsStatus {
    if client.is_null() || out.is_null() {
        return AvsStatus::NullArgument;
    }
    const LEN: usize = avs_core::lwa::CHALLENGE_LEN;
    if out_len < LEN + 1 {
        return AvsStatus::InvalidArgument;
    }
    with(client, |c| {
        let mut challenge = [0u8; LEN];
        match c.code_challenge(&mut challenge) {
            Ok(()) => {
                // SAFETY: the host gave `out_len` > LEN writable bytes.
                core::ptr::copy_nonoverlapping(challenge.as_ptr(), out as *mut u8, LEN);
                *out.add(LEN) = 0;
                AvsStatus::Ok
            }
            Err(e) => e,
        }
    })
}

/// Remote authorization, step 2: the authorization code the companion app obtained (with the
/// challenge of `avs_client_code_challenge`), the client id it was issued to (NULL: the one of
/// `avs_config.lwa`) and its redirect URI, exchanged for tokens with the kept verifier. Then as
/// for a refresh token. `AVS_STATUS_WRONG_STATE` without `lwa` or without a verifier.
#[no_mangle]
pub unsafe extern "C" fn avs_client_authorize(client: *mut AvsClient, code: *const c_char, client_id: *const c_char, redirect_uri: *const c_char) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let (code, redirect_uri) = match (arg_str(code), arg_str(redirect_uri)) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let client_id = if client_id.is_null() {
        None
    } else {
        match arg_str(client_id) {
            Ok(id) => Some(id),
            Err(e) => return e,
        }
    };
    with(client, |c| c.authorize(code, client_id, redirect_uri).err().unwrap_or(AvsStatus::Ok))
}

/// Gives Login with Amazon a refresh token (from the host's own sign-in or secure storage): it
/// replaces the current one (wiped), is kept in storage, and an access token is fetched at once.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_refresh_token(client: *mut AvsClient, refresh_token: *const c_char) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let token = match arg_str(refresh_token) {
        Ok(t) => t,
        Err(e) => return e,
    };
    with(client, |c| c.set_refresh_token(token).err().unwrap_or(AvsStatus::Ok))
}

/// The lifetime of the token last given with `avs_client_set_token` (or `access_token`), in
/// seconds from now: `on_auth_state(AVS_AUTH_STATE_TOKEN_NEEDED, AVS_STATUS_TOKEN_EXPIRING)`
/// asks for the next one `refresh_ahead_ms` (10 min by default, at most a quarter of the
/// lifetime) before it ends. 0 forgets the lifetime.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_token_expiry(client: *mut AvsClient, expires_in_s: u32) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    with(client, |c| {
        c.set_token_expiry(expires_in_s);
        AvsStatus::Ok
    })
}

/// Where sign-in stands.
#[no_mangle]
pub unsafe extern "C" fn avs_client_auth_state(client: *mut AvsClient, out: *mut AvsAuthState) -> AvsStatus {
    if client.is_null() || out.is_null() {
        return AvsStatus::NullArgument;
    }
    with(client, |c| {
        *out = c.auth_state();
        AvsStatus::Ok
    })
}
