//! What the test binaries share: the repository's test TLS identity.

use std::sync::Arc;

use gruvi_client::rustls::pki_types::pem::PemObject;
use gruvi_client::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use gruvi_client::rustls::{ClientConfig, RootCertStore, ServerConfig};

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/tls")
        .join(name)
}

/// The test server's identity: a certificate for `localhost`, signed by
/// the test root.
pub(crate) fn server_config() -> Arc<ServerConfig> {
    let certs = CertificateDer::pem_file_iter(testdata("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(testdata("server.key")).unwrap();
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

/// A client configuration trusting the test root only.
pub(crate) fn trusting_the_test_root() -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(testdata("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}
