//! Where a connection goes: the parts of an `https://host[:port][/path]` URL that connecting,
//! TLS and the request headers need.

/// An HTTPS endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host name or address (an IPv6 address without its brackets).
    pub host: String,
    pub port: u16,
    /// `host[:port]` as written, for `:authority` and `Host`.
    pub authority: String,
    /// The path after the authority, without a trailing `/` (`""` for none).
    pub path: String,
}

/// Parses `https://host[:port][/path]`; `None` for anything else.
pub fn parse_endpoint(url: &str) -> Option<Endpoint> {
    let rest = url.strip_prefix("https://")?;
    // The authority ends where a path, query or fragment starts (RFC 3986), as the SetEndpoint
    // check in avs-core reads it.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest[..end].to_string();
    if authority.is_empty() {
        return None;
    }
    let path = rest[end..].split(['?', '#']).next().unwrap_or("").trim_end_matches('/').to_string();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
            Ok(port) => (h, port),
            Err(_) => (authority.as_str(), 443),
        },
        _ => (authority.as_str(), 443),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    Some(Endpoint { host, port, authority, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_path() {
        let e = parse_endpoint("https://api.amazon.com").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.authority.as_str(), e.path.as_str()), ("api.amazon.com", 443, "api.amazon.com", ""));
        let e = parse_endpoint("https://localhost:8443/lwa/").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.authority.as_str(), e.path.as_str()), ("localhost", 8443, "localhost:8443", "/lwa"));
        let e = parse_endpoint("https://[::1]:9/x?y#z").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("::1", 9, "/x"));
        assert!(parse_endpoint("http://a").is_none());
        assert!(parse_endpoint("https://").is_none());
    }
}
