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

    /// A rider's token for one zone of a split city: only that zone's
    /// process accepts it (docs/cluster.md). Zone names are letters,
    /// digits, `-` and `_`.
    pub fn issue_rider_in_zone(&self, rider: RiderId, zone: &str) -> Result<String, AuthError> {
        if zone.is_empty()
            || !zone
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(AuthError::BadSubject(format!(
                "zone {zone:?}: letters, digits, '-' and '_' only"
            )));
        }
        let claim = format!("rider.{}@{zone}", rider.0);
        Ok(format!("{claim}.{}", self.sign(&claim)))
    }

    /// The role a token grants, if its signature is right (a rider's zone,
    /// if it names one, is left out: see [`Tokens::verify_in_zone`]).
    pub fn verify(&self, token: &str) -> Result<Role, AuthError> {
        self.verify_in_zone(token).map(|(role, _)| role)
    }

    /// The role a token grants and the zone it is for, if it names one.
    pub fn verify_in_zone(&self, token: &str) -> Result<(Role, Option<String>), AuthError> {
        let (claim, signature) = token.rsplit_once('.').ok_or(AuthError::Malformed)?;
        if signature.len() != SIGNATURE_HEX_LEN {
            return Err(AuthError::Malformed);
        }
        if !constant_time_eq(self.sign(claim).as_bytes(), signature.as_bytes()) {
            return Err(AuthError::BadSignature);
        }
        let (role, subject) = claim.split_once('.').ok_or(AuthError::Malformed)?;
        let role = match role {
            "rider" => {
                let (id, zone) = match subject.split_once('@') {
                    Some((id, zone)) => (id, Some(zone.to_string())),
                    None => (subject, None),
                };
                let id = id
                    .parse()
                    .map_err(|_| AuthError::BadSubject(format!("rider id {id:?} is not a number")))?;
                return Ok((Role::Rider(RiderId(id)), zone));
            }
            "merchant" => Role::Merchant(subject.to_string()),
            "operator" => Role::Operator,
            "support" => Role::Support,
            "finance" => Role::Finance,
            _ => return Err(AuthError::Malformed),
        };
        Ok((role, None))
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
    fn a_zone_riders_token_names_its_zone_and_is_signed_with_it() {
        let t = Tokens::new("a-secret-of-some-length");
        let token = t.issue_rider_in_zone(RiderId(7), "north").unwrap();
        assert_eq!(
            t.verify_in_zone(&token),
            Ok((Role::Rider(RiderId(7)), Some("north".into())))
        );
        assert_eq!(t.verify(&token), Ok(Role::Rider(RiderId(7))));
        let forged = token.replacen("@north", "@south", 1);
        assert_eq!(t.verify_in_zone(&forged), Err(AuthError::BadSignature));
        assert!(t.issue_rider_in_zone(RiderId(7), "no.dots").is_err());
        let plain = t.issue(&Role::Rider(RiderId(7))).unwrap();
        assert_eq!(t.verify_in_zone(&plain), Ok((Role::Rider(RiderId(7)), None)));
    }

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
