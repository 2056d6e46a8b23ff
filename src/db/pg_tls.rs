//! TLS to PostgreSQL with libpq's `sslmode` meanings, so a URL that works with `psql` works here.
//!
//! `disable`: plain TCP. `prefer` (the default) and `require`: encrypted, the server's
//! certificate not checked (as libpq does). `verify-ca`: the chain must lead to a trusted root.
//! `verify-full`: and the certificate must name the host. Roots come from `sslrootcert=PATH`
//! (PEM) when given, otherwise the public web roots. tokio-postgres knows only the first three
//! modes and not `sslrootcert`, so those are taken out of the URL here.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// The parsed URL: tokio-postgres's configuration plus the TLS client to use (None: plain).
pub struct PgTarget {
    pub config: tokio_postgres::Config,
    pub tls: Option<Arc<ClientConfig>>,
}

/// Parse a `postgres://` URL, handling `sslmode=verify-ca|verify-full` and `sslrootcert`.
pub fn parse(url: &str) -> Result<PgTarget, String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut kept = Vec::new();
    let mut check = None;
    let mut root_file = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned();
        match k {
            "sslmode" => match value.as_str() {
                "verify-ca" => check = Some(Check::Chain),
                "verify-full" => check = Some(Check::ChainAndName),
                "disable" | "allow" | "prefer" | "require" => kept.push(pair.to_string()),
                other => return Err(format!("sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full")),
            },
            "sslrootcert" => root_file = Some(value),
            _ => kept.push(pair.to_string()),
        }
    }
    if check.is_some() {
        kept.push("sslmode=require".into());
    }
    let rebuilt = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let config: tokio_postgres::Config = rebuilt.parse().map_err(|e| format!("{e}"))?;
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
        return Ok(PgTarget { config, tls: None });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let check = check.unwrap_or(Check::Nothing);
    let chain = if check == Check::Nothing {
        None
    } else {
        let mut roots = RootCertStore::empty();
        match &root_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("sslrootcert {path}: {e}"))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("sslrootcert {path}: {e}"))?;
                if certs.is_empty() {
                    return Err(format!("sslrootcert {path}: no certificate in it"));
                }
                for c in certs {
                    roots
                        .add(c)
                        .map_err(|e| format!("sslrootcert {path}: {e}"))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| format!("TLS roots: {e}"))?,
        )
    };
    let verifier = Arc::new(Verifier {
        chain,
        check_name: check == Check::ChainAndName,
        provider: provider.clone(),
    });
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(PgTarget {
        config,
        tls: Some(Arc::new(tls)),
    })
}

/// The server-certificate check for the chosen mode; handshake signatures are always checked.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert!(parse("postgres://u@h/db?sslmode=disable")
            .unwrap()
            .tls
            .is_none());
        assert!(parse("postgres://u@h/db").unwrap().tls.is_some()); // prefer
        let t = parse("postgres://u@h/db?sslmode=verify-full&application_name=x").unwrap();
        assert_eq!(
            t.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert!(parse("postgres://u@h/db?sslmode=bogus").is_err());
        assert!(parse("postgres://u@h/db?sslmode=verify-ca&sslrootcert=/nonexistent.pem").is_err());
    }
}
