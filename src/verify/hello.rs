//! A hand-made TLS ClientHello, for what rustls and OpenSSL 3 clients cannot offer: SSLv3,
//! TLS 1.0 and 1.1, and cipher suites outside the Mozilla profiles. The probe sends one
//! ClientHello and reads the first record: a ServerHello that takes the offer means the server
//! accepts it; an alert or a closed connection means it refuses.

use std::io::{Read, Write};
use std::time::Duration;

use super::net::{tcp, Counter, Endpoint, NetError};

/// Protocol versions as on the wire.
pub const SSL3: u16 = 0x0300;
/// TLS 1.0.
pub const TLS10: u16 = 0x0301;
/// TLS 1.1.
pub const TLS11: u16 = 0x0302;
/// TLS 1.2.
pub const TLS12: u16 = 0x0303;

/// Legacy suites every pre-1.2 server speaks (CBC with SHA-1, RSA and ECDHE key exchange, 3DES).
pub const LEGACY_SUITES: &[u16] = &[0xc013, 0xc014, 0xc009, 0xc00a, 0x002f, 0x0035, 0x0033, 0x0039, 0x000a, 0x0005, 0x0004];

/// TLS 1.2 suites outside both Mozilla intermediate and modern: CBC (SHA-1 and SHA-2), static RSA
/// key exchange (also GCM), DHE CBC, 3DES, RC4.
pub const WEAK_TLS12_SUITES: &[u16] = &[
    0xc013, 0xc014, 0xc009, 0xc00a, 0xc027, 0xc028, 0xc023, 0xc024, 0x009c, 0x009d, 0x002f, 0x0035, 0x003c, 0x003d, 0x0033, 0x0039, 0x0067, 0x006b, 0x000a,
    0x0005, 0x0004,
];

/// What the server did with the offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// ServerHello at the offered version.
    Accepted {
        /// The version the server took.
        version: u16,
        /// The suite it chose.
        suite: u16,
    },
    /// An alert, a ServerHello at another version, or a closed connection.
    Refused(String),
}

/// Offers `version` with `suites` to `ep` and reports what the server chose.
pub fn offer(ep: &Endpoint, version: u16, suites: &[u16], timeout: Duration, n: &Counter) -> Result<Answer, NetError> {
    let mut s = tcp(ep, timeout, n)?;
    let hello = client_hello(&ep.name, version, suites);
    s.write_all(&hello).map_err(|e| NetError::Io(format!("sending the ClientHello: {e}")))?;
    let mut head = [0u8; 5];
    if let Err(e) = s.read_exact(&mut head) {
        return match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Err(NetError::Unreachable("no answer to the ClientHello".into())),
            _ => Ok(Answer::Refused(format!("connection closed ({e})"))),
        };
    }
    let len = u16::from_be_bytes([head[3], head[4]]) as usize;
    let mut body = vec![0u8; len.min(1 << 14)];
    if s.read_exact(&mut body).is_err() {
        return Ok(Answer::Refused("truncated record".into()));
    }
    Ok(read_answer(head[0], &body, version))
}

/// Interprets the first record the server sent.
pub fn read_answer(content_type: u8, body: &[u8], offered: u16) -> Answer {
    match content_type {
        21 => Answer::Refused(format!("alert {}", alert_name(body.get(1).copied().unwrap_or(0)))),
        22 if body.first() == Some(&2) && body.len() >= 6 => {
            let v = u16::from_be_bytes([body[4], body[5]]);
            // ServerHello: type(1) len(3) version(2) random(32) sid_len(1) sid suite(2)
            let sid = body.get(38).copied().unwrap_or(0) as usize;
            let suite = body.get(39 + sid..41 + sid).map(|b| u16::from_be_bytes([b[0], b[1]])).unwrap_or(0);
            if v == offered { Answer::Accepted { version: v, suite } } else { Answer::Refused(format!("ServerHello at another version {}", version_name(v))) }
        }
        t => Answer::Refused(format!("unexpected record type {t}")),
    }
}

/// Builds one ClientHello record.
pub fn client_hello(sni: &str, version: u16, suites: &[u16]) -> Vec<u8> {
    let mut hs = Vec::new();
    hs.extend_from_slice(&version.to_be_bytes());
    let mut random = [0u8; 32];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    hs.extend_from_slice(&random);
    hs.push(0); // no session id
    let mut cs: Vec<u8> = suites.iter().flat_map(|s| s.to_be_bytes()).collect();
    cs.extend_from_slice(&[0x00, 0xff]); // renegotiation SCSV
    hs.extend_from_slice(&(cs.len() as u16).to_be_bytes());
    hs.extend_from_slice(&cs);
    hs.extend_from_slice(&[1, 0]); // null compression
    if version > SSL3 {
        let mut ext = Vec::new();
        if sni.parse::<std::net::IpAddr>().is_err() {
            let name = sni.as_bytes();
            let mut list = vec![0u8];
            list.extend_from_slice(&(name.len() as u16).to_be_bytes());
            list.extend_from_slice(name);
            let mut data = (list.len() as u16).to_be_bytes().to_vec();
            data.extend_from_slice(&list);
            push_ext(&mut ext, 0x0000, &data);
        }
        push_ext(&mut ext, 0x000a, &[0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]); // x25519, P-256, P-384
        push_ext(&mut ext, 0x000b, &[0x01, 0x00]); // uncompressed points
        if version >= TLS12 {
            // ecdsa_secp256r1_sha256, ecdsa_secp384r1_sha384, rsa_pss_rsae_sha256, rsa_pkcs1_sha256, rsa_pkcs1_sha1, ecdsa_sha1
            let algs: [u16; 6] = [0x0403, 0x0503, 0x0804, 0x0401, 0x0201, 0x0203];
            let mut data = ((algs.len() * 2) as u16).to_be_bytes().to_vec();
            data.extend(algs.iter().flat_map(|a| a.to_be_bytes()));
            push_ext(&mut ext, 0x000d, &data);
        }
        hs.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        hs.extend_from_slice(&ext);
    }
    let mut msg = vec![1u8];
    msg.extend_from_slice(&(hs.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&hs);
    let mut rec = vec![22u8];
    // The record layer says TLS 1.0 at most (RFC 8446 E.1); SSLv3 keeps its own.
    rec.extend_from_slice(&version.clamp(SSL3, TLS10).to_be_bytes());
    rec.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    rec.extend_from_slice(&msg);
    rec
}

fn push_ext(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

/// `TLS 1.0` etc.
pub fn version_name(v: u16) -> String {
    match v {
        SSL3 => "SSLv3".into(),
        TLS10 => "TLS 1.0".into(),
        TLS11 => "TLS 1.1".into(),
        TLS12 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        other => format!("0x{other:04x}"),
    }
}

fn alert_name(code: u8) -> String {
    match code {
        40 => "handshake_failure".into(),
        70 => "protocol_version".into(),
        71 => "insufficient_security".into(),
        47 => "illegal_parameter".into(),
        80 => "internal_error".into(),
        c => format!("{c}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_well_formed() {
        let h = client_hello("localhost", TLS10, LEGACY_SUITES);
        assert_eq!(h[0], 22);
        assert_eq!(u16::from_be_bytes([h[1], h[2]]), TLS10);
        assert_eq!(u16::from_be_bytes([h[3], h[4]]) as usize, h.len() - 5);
        assert_eq!(h[5], 1, "ClientHello");
        assert_eq!(u16::from_be_bytes([h[9], h[10]]), TLS10);
        let ssl3 = client_hello("localhost", SSL3, LEGACY_SUITES);
        assert_eq!(u16::from_be_bytes([ssl3[1], ssl3[2]]), SSL3);
    }

    #[test]
    fn answers_are_read() {
        assert_eq!(read_answer(21, &[2, 70], TLS10), Answer::Refused("alert protocol_version".into()));
        let mut sh = vec![2, 0, 0, 40, 0x03, 0x01];
        sh.extend([0u8; 32]);
        sh.push(0);
        sh.extend([0xc0, 0x13, 0]);
        assert_eq!(read_answer(22, &sh, TLS10), Answer::Accepted { version: TLS10, suite: 0xc013 });
        assert!(matches!(read_answer(22, &sh, TLS11), Answer::Refused(_)));
    }
}
