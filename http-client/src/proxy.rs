//! [`Proxy`]: which requests of a [`Client`](crate::Client) go through an
//! HTTP proxy, and how.
//!
//! An `http` URL is sent to the proxy in absolute-form (RFC 9112 §3.2.2);
//! an `https` URL goes through a tunnel the proxy opens on `CONNECT`
//! (RFC 9110 §9.3.6), inside which the TLS handshake is with the origin.

use http::HeaderValue;

use crate::connect::{Origin, Target};
use crate::error::HttpError;

/// HTTP proxies for a [`Client`](crate::Client): one for `http` URLs, one
/// for `https` URLs, and hosts reached directly.
///
/// ```
/// use gruvi_client::{Client, Proxy};
///
/// # async fn run() -> Result<(), gruvi_client::HttpError> {
/// let proxy = Proxy::all("http://proxy.internal:3128")?.no_proxy("localhost, .corp.example");
/// let client = Client::builder().proxy(proxy).build();
/// let response = client.get("https://example.com/").await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Proxy {
    http: Option<Target>,
    https: Option<Target>,
    /// Lower case, without a leading dot; `"*"` for every host.
    no_proxy: Vec<String>,
    authorization: Option<HeaderValue>,
}

impl Proxy {
    /// One proxy for `http` and `https` URLs: `host:port` or
    /// `http://host[:port]` (`https://` for a proxy reached over TLS).
    pub fn all(url: &str) -> Result<Proxy, HttpError> {
        let target = parse(url)?;
        Ok(Proxy {
            http: Some(target.clone()),
            https: Some(target),
            ..Proxy::default()
        })
    }

    /// Sends `http` URLs through the proxy at `url`.
    pub fn http(mut self, url: &str) -> Result<Proxy, HttpError> {
        self.http = Some(parse(url)?);
        Ok(self)
    }

    /// Tunnels `https` URLs through the proxy at `url`.
    pub fn https(mut self, url: &str) -> Result<Proxy, HttpError> {
        self.https = Some(parse(url)?);
        Ok(self)
    }

    /// Hosts reached directly, as `NO_PROXY` lists them: comma-separated
    /// names, each matching itself and its subdomains (`example.com` and
    /// `.example.com` both match `api.example.com`), IP literals matched
    /// as written, and `*` for every host. Adds to those listed before.
    pub fn no_proxy(mut self, list: &str) -> Proxy {
        let entries = list
            .split(',')
            .map(|entry| entry.trim().trim_start_matches('.'))
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let entry = entry.strip_prefix('[').unwrap_or(entry);
                entry
                    .strip_suffix(']')
                    .unwrap_or(entry)
                    .to_ascii_lowercase()
            });
        self.no_proxy.extend(entries);
        self
    }

    /// The `Proxy-Authorization` value sent to the proxy (RFC 9110
    /// §11.7.2): with each `http` request, and with the `CONNECT` of each
    /// tunnel.
    pub fn authorization(mut self, value: HeaderValue) -> Proxy {
        self.authorization = Some(value);
        self
    }

    /// The proxies the environment names, as curl reads them: `http_proxy`,
    /// `HTTPS_PROXY` (or `https_proxy`), `ALL_PROXY` (or `all_proxy`) for
    /// both when the others are unset, and `NO_PROXY` (or `no_proxy`).
    /// Only lower-case `http_proxy` counts: a server run by CGI receives a
    /// request's `Proxy` header as `HTTP_PROXY`. `None` when none is set;
    /// an error when one is not a proxy URL.
    pub fn from_env() -> Result<Option<Proxy>, HttpError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Proxy>, HttpError> {
        let either = |upper: &str, lower: &str| {
            var(upper)
                .or_else(|| var(lower))
                .filter(|v| !v.trim().is_empty())
        };
        let all = either("ALL_PROXY", "all_proxy");
        let http = var("http_proxy")
            .filter(|v| !v.trim().is_empty())
            .or(all.clone());
        let https = either("HTTPS_PROXY", "https_proxy").or(all);
        if http.is_none() && https.is_none() {
            return Ok(None);
        }
        let mut proxy = Proxy::default();
        if let Some(url) = http {
            proxy = proxy.http(url.trim())?;
        }
        if let Some(url) = https {
            proxy = proxy.https(url.trim())?;
        }
        if let Some(list) = either("NO_PROXY", "no_proxy") {
            proxy = proxy.no_proxy(&list);
        }
        Ok(Some(proxy))
    }

    /// The proxy requests to `origin` go through, if any.
    pub(crate) fn for_origin(&self, origin: &Origin) -> Option<&Target> {
        let proxy = if origin.is_tls() {
            self.https.as_ref()
        } else {
            self.http.as_ref()
        }?;
        let host = origin.host();
        let direct = self.no_proxy.iter().any(|entry| {
            entry == "*"
                || host == entry
                || host
                    .strip_suffix(entry.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        });
        (!direct).then_some(proxy)
    }

    pub(crate) fn authorization_value(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }
}

/// A proxy's address. Credentials in the URL are refused rather than
/// dropped: they go in [`Proxy::authorization`].
fn parse(url: &str) -> Result<Target, HttpError> {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(HttpError::misuse(format!(
            "{url}: credentials in a proxy URL are not sent; give them with Proxy::authorization"
        )));
    }
    Target::parse(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Origin {
        Origin::of_uri(&url.parse().unwrap()).unwrap().unwrap()
    }

    fn target(proxy: &Proxy, url: &str) -> Option<Target> {
        proxy.for_origin(&origin(url)).cloned()
    }

    #[test]
    fn each_scheme_has_its_proxy() {
        let proxy = Proxy::default()
            .http("http://plain:3128")
            .unwrap()
            .https("tunnel:8080")
            .unwrap();
        let host = |name: &str, port| Target::Host {
            host: name.to_owned(),
            port,
            tls: false,
        };
        assert_eq!(target(&proxy, "http://a.test/x"), Some(host("plain", 3128)));
        assert_eq!(
            target(&proxy, "https://a.test/x"),
            Some(host("tunnel", 8080))
        );
        let only_http = Proxy::default().http("plain:1").unwrap();
        assert_eq!(target(&only_http, "https://a.test/"), None);
    }

    #[test]
    fn no_proxy_matches_names_their_subdomains_and_literals() {
        let proxy = Proxy::all("p:1")
            .unwrap()
            .no_proxy(" example.com, .corp.test ,[::1], 10.0.0.1,");
        for direct in [
            "http://example.com/",
            "http://API.Example.com/",
            "https://corp.test/",
            "http://a.b.corp.test/",
            "http://[::1]:8080/",
            "http://10.0.0.1/",
        ] {
            assert_eq!(target(&proxy, direct), None, "{direct}");
        }
        for proxied in [
            "http://notexample.com/",
            "http://example.com.evil.test/",
            "http://10.0.0.10/",
        ] {
            assert!(target(&proxy, proxied).is_some(), "{proxied}");
        }
        let none = Proxy::all("p:1").unwrap().no_proxy("*");
        assert_eq!(target(&none, "http://anything.test/"), None);
    }

    #[test]
    fn environment_is_read_as_curl_reads_it() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(Proxy::from_vars(vars(&[])).unwrap().is_none());
        // Upper-case HTTP_PROXY may come from a request header under CGI.
        assert!(
            Proxy::from_vars(vars(&[("HTTP_PROXY", "evil:1")]))
                .unwrap()
                .is_none()
        );
        let proxy = Proxy::from_vars(vars(&[
            ("http_proxy", "http://h:1"),
            ("ALL_PROXY", "a:2"),
            ("no_proxy", "local.test"),
        ]))
        .unwrap()
        .unwrap();
        let at = |port| {
            Some(Target::Host {
                host: if port == 1 { "h" } else { "a" }.to_owned(),
                port,
                tls: false,
            })
        };
        assert_eq!(target(&proxy, "http://x.test/"), at(1));
        assert_eq!(target(&proxy, "https://x.test/"), at(2));
        assert_eq!(target(&proxy, "https://local.test/"), None);
        let bad = Proxy::from_vars(vars(&[("https_proxy", "http://[oops")]));
        assert!(bad.unwrap_err().is_misuse());
    }

    #[test]
    fn credentials_in_the_url_are_refused() {
        let error = Proxy::all("http://user:secret@p:1").unwrap_err();
        assert!(error.is_misuse());
        assert!(error.to_string().contains("Proxy::authorization"));
    }
}
