//! Natural order of names, as PBS's GUI lists them: runs of digits compare by value
//! (`vm/99 < vm/100 < vm/1000`), everything else by character, case-insensitively first.

use std::cmp::Ordering;

use super::names::{GroupId, Namespace};

/// Compares two names naturally; equal-looking names (`a01` and `a1`, `A` and `a`) still
/// get a stable, total order from the plain string comparison.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    natural_key_cmp(a, b).then_with(|| a.cmp(b))
}

fn natural_key_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (na, ra) = split_digits(a);
                let (nb, rb) = split_digits(b);
                let ord = cmp_digit_runs(na, nb);
                if ord != Ordering::Equal {
                    return ord;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                let ord = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if ord != Ordering::Equal {
                    return ord;
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    s.split_at(n)
}

/// By value without parsing (ids may be longer than any integer type): fewer significant
/// digits is smaller; the same number of them compares digit by digit.
fn cmp_digit_runs(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> usize { s.iter().take_while(|c| **c == b'0').count() };
    let (a, b) = (&a[strip(a)..], &b[strip(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Groups: by type (vm, ct, host: `BackupType`'s order), then naturally by id.
pub fn group_cmp(a: &GroupId, b: &GroupId) -> Ordering {
    a.ty.cmp(&b.ty).then_with(|| natural_cmp(&a.id, &b.id))
}

/// Namespaces: component by component, each naturally (parents before their children).
pub fn ns_cmp(a: &Namespace, b: &Namespace) -> Ordering {
    let (ca, cb) = (a.components(), b.components());
    for (x, y) in ca.iter().zip(cb) {
        let ord = natural_cmp(x, y);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| natural_cmp(a, b));
        v
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(
            sorted(&["1444", "148", "1492", "99", "1000", "100"]),
            ["99", "100", "148", "1000", "1444", "1492"]
        );
    }

    #[test]
    fn mixed_names_and_leading_zeros() {
        assert_eq!(
            sorted(&["web10", "web9", "Web2", "db", "web-1", "007", "7"]),
            ["007", "7", "db", "web-1", "Web2", "web9", "web10"]
        );
        assert_eq!(natural_cmp("a", "a"), Ordering::Equal);
        assert_ne!(natural_cmp("a01", "a1"), Ordering::Equal);
        // Longer than u64: still by value.
        assert_eq!(
            natural_cmp("99999999999999999999999", "100000000000000000000000"),
            Ordering::Less
        );
    }

    #[test]
    fn groups_by_type_then_id() {
        let g = |s: &str| GroupId::parse(s).unwrap();
        let mut v = [
            g("vm/1000"),
            g("vm/99"),
            g("ct/5"),
            g("vm/100"),
            g("host/a"),
        ];
        v.sort_by(group_cmp);
        let names: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["vm/99", "vm/100", "vm/1000", "ct/5", "host/a"]);
    }

    #[test]
    fn namespaces_parents_first() {
        let n = |s: &str| Namespace::parse(s).unwrap();
        let mut v = [n("a10"), n("a2/x"), n("a2"), n(""), n("a2/b10"), n("a2/b9")];
        v.sort_by(ns_cmp);
        let names: Vec<String> = v.iter().map(Namespace::human).collect();
        assert_eq!(names, ["/", "a2", "a2/b9", "a2/b10", "a2/x", "a10"]);
    }
}
