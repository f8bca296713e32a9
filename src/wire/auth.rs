//! Who is calling: rider, merchant, operator, support and finance tokens.
//!
//! A token is `<role>.<subject>.<signature>`, the signature being the
//! first 128 bits of HMAC-SHA256 over `<role>.<subject>` with the server's
//! secret. Stateless, so 10k riders need no token table, and a token
//! cannot be forged or moved to another subject without the secret.
//! `waimai token` issues them.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;

use crate::base::RiderId;

/// What a token lets its holder do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// One rider's WebSocket.
    Rider(RiderId),
    /// One merchant's orders (its restaurants).
    Merchant(String),
    /// Everything, read and write (console, administration).
    Operator,
    /// Customer support: reads customers with masked phone numbers,
    /// issues coupons (service recovery).
    Support,
    /// Finance: reads points ledgers, posts refunds.
    Finance,
}

/// Why a token was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error("no token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("bad token signature")]
    BadSignature,
    #[error("{0}")]
    BadSubject(String),
}

/// Issues and checks tokens with one secret.
#[derive(Clone)]
pub struct Tokens {
    secret: Vec<u8>,
}

const SIGNATURE_HEX_LEN: usize = 32;

impl Tokens {
    pub fn new(secret: &str) -> Self {
        Self {
            secret: secret.as_bytes().to_vec(),
        }
    }

    /// The token for `role`. Merchant ids may hold letters, digits, `-`
    /// and `_` only.
    pub fn issue(&self, role: &Role) -> Result<String, AuthError> {
        let claim = claim_of(role)?;
        Ok(format!("{claim}.{}", self.sign(&claim)))
    }

    /// The role a token grants, if its signature is right.
    pub fn verify(&self, token: &str) -> Result<Role, AuthError> {
        let (claim, signature) = token.rsplit_once('.').ok_or(AuthError::Malformed)?;
        if signature.len() != SIGNATURE_HEX_LEN {
            return Err(AuthError::Malformed);
        }
        if !constant_time_eq(self.sign(claim).as_bytes(), signature.as_bytes()) {
            return Err(AuthError::BadSignature);
        }
        let (role, subject) = claim.split_once('.').ok_or(AuthError::Malformed)?;
        match role {
            "rider" => subject
                .parse()
                .map(|id| Role::Rider(RiderId(id)))
                .map_err(|_| AuthError::BadSubject(format!("rider id {subject:?} is not a number"))),
            "merchant" => Ok(Role::Merchant(subject.to_string())),
            "operator" => Ok(Role::Operator),
            "support" => Ok(Role::Support),
            "finance" => Ok(Role::Finance),
            _ => Err(AuthError::Malformed),
        }
    }

    fn sign(&self, claim: &str) -> String {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC accepts any key length");
        mac.update(claim.as_bytes());
        let tag = mac.finalize().into_bytes();
        tag[..SIGNATURE_HEX_LEN / 2]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn claim_of(role: &Role) -> Result<String, AuthError> {
    match role {
        Role::Rider(id) => Ok(format!("rider.{}", id.0)),
        Role::Merchant(m) => {
            let ok = !m.is_empty()
                && m.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(AuthError::BadSubject(format!(
                    "merchant id {m:?}: letters, digits, '-' and '_' only"
                )));
            }
            Ok(format!("merchant.{m}"))
        }
        Role::Operator => Ok("operator.all".into()),
        Role::Support => Ok("support.all".into()),
        Role::Finance => Ok("finance.all".into()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_to_their_role() {
        let t = Tokens::new("a-secret-of-some-length");
        for role in [
            Role::Rider(RiderId(42)),
            Role::Merchant("r7".into()),
            Role::Operator,
            Role::Support,
            Role::Finance,
        ] {
            let token = t.issue(&role).unwrap();
            assert_eq!(t.verify(&token), Ok(role));
        }
    }

    #[test]
    fn forged_or_moved_tokens_are_refused() {
        let t = Tokens::new("a-secret-of-some-length");
        let token = t.issue(&Role::Rider(RiderId(42))).unwrap();
        let sig = token.rsplit_once('.').unwrap().1;
        // The same signature on another rider.
        assert_eq!(t.verify(&format!("rider.43.{sig}")), Err(AuthError::BadSignature));
        // Another secret.
        assert_eq!(
            Tokens::new("another-secret-entirely").verify(&token),
            Err(AuthError::BadSignature)
        );
        assert_eq!(t.verify("garbage"), Err(AuthError::Malformed));
        assert_eq!(t.verify(""), Err(AuthError::Malformed));
        assert!(t.issue(&Role::Merchant("a.b".into())).is_err());
    }
}
