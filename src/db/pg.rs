//! The PostgreSQL side of [`super::Conn`].
//!
//! Each connection owns a current-thread runtime that drives both the query and the connection
//! task in the calling thread (as the synchronous `postgres` crate does): no thread hop per
//! query, and usable from any thread that may block (the blocking pool, CLI threads). Statements
//! are prepared once per connection and reused.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

use super::conn::{DbResult, ResultSet};
use super::value::Value;
use super::DbError;

type BoxError = Box<dyn StdError + Sync + Send>;

/// One PostgreSQL connection.
pub struct PgConn {
    client: Client,
    stmts: RefCell<HashMap<String, Statement>>,
    rt: ConnRuntime,
}

/// The connection's runtime, shut down without blocking when the connection goes (which may
/// happen inside another runtime).
struct ConnRuntime(Option<tokio::runtime::Runtime>);

impl ConnRuntime {
    fn block_on<F: std::future::Future>(&self, f: F) -> DbResult<F::Output> {
        match &self.0 {
            Some(rt) => Ok(rt.block_on(f)),
            None => Err(DbError::Other("connection runtime stopped".into())),
        }
    }
}

impl Drop for ConnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl PgConn {
    pub(super) fn connect(
        cfg: &tokio_postgres::Config,
        tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
    ) -> DbResult<PgConn> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DbError::Other(format!("cannot start a database runtime: {e}")))?;
        // The connection task is driven by this runtime whenever a query blocks on it.
        let client = match tls {
            None => {
                let (client, connection) = rt.block_on(cfg.connect(NoTls))?;
                rt.spawn(drive(connection));
                client
            }
            Some(tls) => {
                let make = tokio_postgres_rustls::MakeRustlsConnect::new((**tls).clone());
                let (client, connection) = rt.block_on(cfg.connect(make))?;
                rt.spawn(drive(connection));
                client
            }
        };
        let conn = PgConn {
            client,
            stmts: RefCell::new(HashMap::new()),
            rt: ConnRuntime(Some(rt)),
        };
        // A stuck statement or an abandoned transaction must not hold locks for ever.
        conn.batch(
            "SET client_min_messages = warning; SET statement_timeout = '120s'; \
             SET lock_timeout = '60s'; \
             SET idle_in_transaction_session_timeout = '300s'",
        )?;
        Ok(conn)
    }

    pub(super) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    fn statement(&self, sql: &str) -> DbResult<Statement> {
        const MAX_CACHED_STATEMENTS: usize = 256;
        if let Some(s) = self.stmts.borrow().get(sql) {
            return Ok(s.clone());
        }
        let translated = translate(sql);
        let stmt = self.rt.block_on(self.client.prepare(&translated))??;
        let mut stmts = self.stmts.borrow_mut();
        // Some statements inline a user id (permission filters): keep the cache bounded.
        if stmts.len() >= MAX_CACHED_STATEMENTS {
            stmts.clear();
        }
        stmts.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    pub(super) fn query(&self, sql: &str, params: Vec<Value>) -> DbResult<ResultSet> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let rows = self.rt.block_on(self.client.query(&stmt, &refs))??;
        let names: Vec<String> = stmt
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(names.len());
            for (i, name) in names.iter().enumerate() {
                let raw: Raw<'_> = row.try_get(i)?;
                values.push(decode(&raw).map_err(|e| DbError::Column(name.clone(), e))?);
            }
            out.push(values);
        }
        Ok(ResultSet { names, rows: out })
    }

    pub(super) fn execute(&self, sql: &str, params: Vec<Value>) -> DbResult<usize> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let n = self.rt.block_on(self.client.execute(&stmt, &refs))??;
        Ok(n as usize)
    }

    pub(super) fn batch(&self, sql: &str) -> DbResult<()> {
        Ok(self.rt.block_on(self.client.batch_execute(sql))??)
    }
}

/// Run a connection until it closes, saying why when that was an error.
async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::warn!("postgres connection ended: {e}");
    }
}

/// `?N` and `?` placeholders (SQLite style, used in every query) become `$N`.
pub(super) fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut highest = 0u32;
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                let n = if digits.is_empty() {
                    highest + 1
                } else {
                    digits.parse().unwrap_or(0)
                };
                highest = highest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    i.to_string().as_str().to_sql(ty, out)
                }
                _ => Err(format!("cannot bind an integer as {ty}").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(format!("cannot bind a number as {ty}").into()),
            },
            Value::Text(s) => match *ty {
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                Type::INT8 | Type::INT4 | Type::INT2 | Type::BOOL => {
                    Err(format!("cannot bind text as {ty}").into())
                }
                _ => s.as_str().to_sql(ty, out),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => std::str::from_utf8(b)?.to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A column as the server sent it, decoded by [`decode`].
struct Raw<'a> {
    ty: Type,
    bytes: Option<&'a [u8]>,
}

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw {
            ty: ty.clone(),
            bytes: Some(raw),
        })
    }

    fn from_sql_null(ty: &Type) -> Result<Self, BoxError> {
        Ok(Raw {
            ty: ty.clone(),
            bytes: None,
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn decode(raw: &Raw<'_>) -> Result<Value, String> {
    let Some(b) = raw.bytes else {
        return Ok(Value::Null);
    };
    let ty = &raw.ty;
    let v = match *ty {
        Type::BOOL => bool::from_sql(ty, b).map(|v| Value::Int(i64::from(v))),
        Type::INT2 => i16::from_sql(ty, b).map(|v| Value::Int(v.into())),
        Type::INT4 => i32::from_sql(ty, b).map(|v| Value::Int(v.into())),
        Type::INT8 => i64::from_sql(ty, b).map(Value::Int),
        Type::OID => u32::from_sql(ty, b).map(|v| Value::Int(v.into())),
        Type::FLOAT4 => f32::from_sql(ty, b).map(|v| Value::Real(v.into())),
        Type::FLOAT8 => f64::from_sql(ty, b).map(Value::Real),
        Type::NUMERIC => return numeric(b),
        Type::BYTEA => Vec::<u8>::from_sql(ty, b).map(Value::Blob),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            String::from_sql(ty, b).map(Value::Text)
        }
        _ => return Err(format!("unsupported column type {ty}")),
    };
    v.map_err(|e| e.to_string())
}

/// NUMERIC in binary form (what `SUM` of a BIGINT returns): an integer when it has no
/// fraction, a float otherwise.
fn numeric(b: &[u8]) -> Result<Value, String> {
    let word = |i: usize| -> Result<u16, String> {
        b.get(i * 2..i * 2 + 2)
            .map(|s| u16::from_be_bytes([s[0], s[1]]))
            .ok_or_else(|| "short NUMERIC".to_string())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = word(3)?;
    if sign == 0xC000 {
        return Err("NaN".into());
    }
    let mut int: i128 = 0;
    let mut float = 0f64;
    let mut fractional = false;
    for i in 0..ndigits {
        let d = i128::from(word(4 + i)?);
        let exp = weight - i as i32;
        float += d as f64 * 10000f64.powi(exp);
        if exp >= 0 {
            int = int
                .checked_add(
                    d * 10000i128
                        .checked_pow(exp as u32)
                        .ok_or("NUMERIC too large")?,
                )
                .ok_or("NUMERIC too large")?;
        } else if d != 0 {
            fractional = true;
        }
    }
    let neg = sign == 0x4000;
    if !fractional && dscale == 0 {
        let v = i64::try_from(int).map_err(|_| "NUMERIC too large".to_string())?;
        Ok(Value::Int(if neg { -v } else { v }))
    } else {
        Ok(Value::Real(if neg { -float } else { float }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(translate("a = ?1 AND b = ?2"), "a = $1 AND b = $2");
        assert_eq!(translate("a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(translate("x = '?1' AND y = ?3"), "x = '?1' AND y = $3");
        assert_eq!(translate("x LIKE ?1 ESCAPE '\\'"), "x LIKE $1 ESCAPE '\\'");
    }

    #[test]
    fn numeric_decoding() {
        // 12345678 = digits [1234, 5678], weight 1
        let mut b = Vec::new();
        for w in [2u16, 1, 0, 0, 1234, 5678] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(numeric(&b).unwrap(), Value::Int(12_345_678));
        let mut b = Vec::new();
        for w in [2u16, 0, 0x4000, 2, 3, 5000] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(numeric(&b).unwrap(), Value::Real(-3.5));
        let zero = [0u8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(numeric(&zero).unwrap(), Value::Int(0));
    }
}
