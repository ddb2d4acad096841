//! Distinguished names: the RFC 4514 string a client registers as `tls_client_auth_subject_dn`,
//! and the comparison with a certificate's subject (RFC 8705 §2.1.2).
//!
//! Both sides become an [`Rdns`]: the RDN sequence in certificate (ASN.1) order, each RDN a set
//! of (attribute type OID, value). RFC 4514 §2.1 writes the RDNs in reverse order, so the parser
//! reverses them. Values are compared as RFC 4517 `caseIgnoreMatch` after the insignificant-space
//! handling of RFC 4518 §2.6.1 (leading and trailing spaces removed, inner runs of spaces
//! collapsed): the matching rule of every attribute type an X.509 subject normally carries.
//! Attribute order inside a multi-valued RDN does not matter; RDN order and count do.

/// Attribute type names an operator may write (RFC 4514 §3 plus the ones eIDAS/PSD2 and
/// ordinary client certificates use). Any other type must be written as a dotted OID.
const NAMES: [(&str, &str); 13] = [
    ("CN", "2.5.4.3"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("C", "2.5.4.6"),
    ("STREET", "2.5.4.9"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1"),
    ("ORGANIZATIONIDENTIFIER", "2.5.4.97"),
    ("POSTALCODE", "2.5.4.17"),
];

/// Most RDNs and attributes accepted, against pathological input.
const MAX_ATTRIBUTES: usize = 64;

/// An RDN sequence in certificate order; each attribute is (OID, normalised value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rdns(Vec<Vec<(String, String)>>);

impl Rdns {
    /// From a certificate's subject, already decoded: RDNs in ASN.1 order, each a list of
    /// (dotted OID, value).
    pub fn from_certificate(rdns: Vec<Vec<(String, String)>>) -> Self {
        Rdns(
            rdns.into_iter()
                .map(|rdn| {
                    let mut rdn: Vec<_> =
                        rdn.into_iter().map(|(t, v)| (t, normalise(&v))).collect();
                    rdn.sort();
                    rdn
                })
                .collect(),
        )
    }

    /// Parses an RFC 4514 string. `None` if it is not one, uses a `#hex` (BER) value, or names an
    /// attribute type that is neither in the list above nor a dotted OID.
    pub fn parse_rfc4514(s: &str) -> Option<Self> {
        if s.trim().is_empty() {
            return None;
        }
        let mut rdns = Vec::new();
        let mut count = 0usize;
        for rdn in split_unescaped(s, ',')? {
            let mut attrs = Vec::new();
            for ava in split_unescaped(&rdn, '+')? {
                count += 1;
                if count > MAX_ATTRIBUTES {
                    return None;
                }
                let (ty, value) = ava.split_once('=')?;
                let oid = attribute_oid(ty.trim())?;
                let value = value.trim_start();
                if value.starts_with('#') {
                    return None;
                }
                attrs.push((oid, normalise(&unescape(value)?)));
            }
            attrs.sort();
            rdns.push(attrs);
        }
        rdns.reverse();
        Some(Rdns(rdns))
    }
}

/// RFC 4518 §2.6.1 (simplified to spaces) and caseIgnoreMatch folding.
fn normalise(v: &str) -> String {
    v.split(' ')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn attribute_oid(ty: &str) -> Option<String> {
    if let Some((_, oid)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(ty)) {
        return Some((*oid).to_owned());
    }
    let dotted = ty
        .strip_prefix("OID.")
        .or_else(|| ty.strip_prefix("oid."))
        .unwrap_or(ty);
    let ok = dotted.split('.').count() >= 2
        && dotted
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| dotted.to_owned())
}

/// Splits at `sep` where it is not escaped by a backslash (RFC 4514 §2.4). The pieces keep
/// their escapes; an unterminated escape is an error.
fn split_unescaped(s: &str, sep: char) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            cur.push(chars.next()?);
        } else if c == sep {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    Some(out)
}

/// Removes RFC 4514 §2.4 escapes: `\` followed by a special character, or by two hex digits
/// (one byte of UTF-8). Trailing unescaped spaces are insignificant and dropped by
/// [`normalise`] anyway.
fn unescape(v: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(v.len());
    let raw = v.as_bytes();
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            bytes.push(b);
            i += 1;
            continue;
        }
        let next = *raw.get(i + 1)?;
        if next.is_ascii_hexdigit() {
            let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            bytes.push(next);
            i += 2;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(rdns: &[&[(&str, &str)]]) -> Rdns {
        Rdns::from_certificate(
            rdns.iter()
                .map(|r| r.iter().map(|(t, v)| ((*t).into(), (*v).into())).collect())
                .collect(),
        )
    }

    #[test]
    fn rfc4514_order_is_the_reverse_of_the_certificate_order() {
        let c = cert(&[
            &[("2.5.4.6", "DE")],
            &[("2.5.4.10", "Bank AG")],
            &[("2.5.4.3", "tpp-1")],
        ]);
        assert_eq!(
            Rdns::parse_rfc4514("CN=tpp-1,O=Bank AG,C=DE"),
            Some(c.clone())
        );
        assert_ne!(Rdns::parse_rfc4514("C=DE,O=Bank AG,CN=tpp-1"), Some(c));
    }

    #[test]
    fn values_match_case_and_space_insensitively() {
        let c = cert(&[&[("2.5.4.3", "TPP  One")]]);
        assert_eq!(Rdns::parse_rfc4514("cn= tpp one "), Some(c));
    }

    #[test]
    fn escapes_and_multivalued_rdns() {
        let c = cert(&[&[("2.5.4.10", "A, B + C"), ("2.5.4.3", "x")]]);
        assert_eq!(Rdns::parse_rfc4514(r"CN=x+O=A\, B \+ C"), Some(c.clone()));
        assert_eq!(Rdns::parse_rfc4514(r"O=A\2C B \2B C+CN=x"), Some(c));
    }

    #[test]
    fn oids_and_eidas_organization_identifier() {
        let c = cert(&[&[("2.5.4.97", "PSDDE-BAFIN-123456")]]);
        assert_eq!(
            Rdns::parse_rfc4514("organizationIdentifier=PSDDE-BAFIN-123456"),
            Some(c.clone())
        );
        assert_eq!(Rdns::parse_rfc4514("2.5.4.97=PSDDE-BAFIN-123456"), Some(c));
    }

    #[test]
    fn malformed_strings_are_refused() {
        for bad in [
            "",
            "CN",
            "XX=y",
            "CN=a\\",
            "CN=#0403616263",
            "1=x",
            "CN=a,,",
        ] {
            assert_eq!(Rdns::parse_rfc4514(bad), None, "{bad}");
        }
    }
}
