//! Outgoing mail (email verification, invitations) over SMTP.

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Smtp, SmtpTls};
use crate::error::{Error, Result};

/// Send a plain-text message.
pub async fn send(smtp: &Smtp, to: &str, subject: &str, body: &str) -> Result<()> {
    let msg = Message::builder()
        .from(
            smtp.from
                .parse()
                .map_err(|e| Error::internal(format!("smtp_from is not an address: {e}")))?,
        )
        .to(to
            .parse()
            .map_err(|e| Error::bad_request(format!("Invalid email address '{to}': {e}")))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(|e| Error::internal(format!("cannot build email: {e}")))?;
    let builder = match smtp.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
            .map_err(|e| Error::internal(format!("smtp: {e}")))?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
            .map_err(|e| Error::internal(format!("smtp: {e}")))?,
    };
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(std::time::Duration::from_secs(30)));
    if let (Some(u), Some(p)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
    }
    builder
        .build()
        .send(msg)
        .await
        .map_err(|e| Error::internal(format!("sending mail failed: {e}")))?;
    Ok(())
}
