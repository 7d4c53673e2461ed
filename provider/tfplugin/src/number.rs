//! Arbitrary-precision decimal numbers, stored as canonical decimal text
//! (no exponent, no leading zeros, no trailing fractional zeros, no `-0`).

use std::fmt;
use std::str::FromStr;

/// A cty number. Equality is numeric equality (the text is canonical).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Number(String);

/// Error for text that is not a decimal number.
#[derive(Debug, thiserror::Error)]
#[error("invalid number {0:?}")]
pub struct NumberError(pub String);

/// Upper bound on digits produced when expanding an exponent; protects
/// against `1e999999999` style inputs.
const MAX_DIGITS: i64 = 100_000;

impl Number {
    /// Parse decimal text, with optional sign, fraction and exponent.
    pub fn parse(s: &str) -> Result<Number, NumberError> {
        let err = || NumberError(s.to_string());
        let t = s.trim();
        let (neg, t) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (mant, exp) = match t.find(['e', 'E']) {
            Some(i) => {
                let e: i64 = t[i + 1..].parse().map_err(|_| err())?;
                (&t[..i], e)
            }
            None => (t, 0),
        };
        let (ip, fp) = match mant.find('.') {
            Some(i) => (&mant[..i], &mant[i + 1..]),
            None => (mant, ""),
        };
        if ip.is_empty() && fp.is_empty() {
            return Err(err());
        }
        if !ip.bytes().all(|b| b.is_ascii_digit()) || !fp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        // value = digits * 10^exp
        let mut digits: String = format!("{ip}{fp}");
        let mut exp = exp.checked_sub(fp.len() as i64).ok_or_else(err)?;
        let lead = digits.bytes().take_while(|&b| b == b'0').count();
        digits.drain(..lead);
        if digits.is_empty() {
            return Ok(Number("0".into()));
        }
        while digits.ends_with('0') {
            digits.pop();
            exp += 1;
        }
        let len = digits.len() as i64;
        if exp > MAX_DIGITS || exp + len < -MAX_DIGITS {
            return Err(err());
        }
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        if exp >= 0 {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', exp as usize));
        } else {
            let point = len + exp; // digits before the decimal point
            if point > 0 {
                out.push_str(&digits[..point as usize]);
                out.push('.');
                out.push_str(&digits[point as usize..]);
            } else {
                out.push_str("0.");
                out.extend(std::iter::repeat_n('0', (-point) as usize));
                out.push_str(&digits);
            }
        }
        Ok(Number(out))
    }

    /// Canonical decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_integer(&self) -> bool {
        !self.0.contains('.')
    }

    pub fn as_i64(&self) -> Option<i64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    /// Nearest f64 (may round).
    pub fn as_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }

    /// The f64 with exactly this value, if there is one.
    pub fn as_exact_f64(&self) -> Option<f64> {
        let f: f64 = self.0.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        (Number::from_f64(f)? == *self).then_some(f)
    }

    /// The exact value of a finite f64.
    pub fn from_f64(f: f64) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        // Formatting with a large precision prints the exact binary value.
        Number::parse(&format!("{f:.1100}")).ok()
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Number(v.to_string())
    }
}
impl From<u64> for Number {
    fn from(v: u64) -> Self {
        Number(v.to_string())
    }
}
impl From<i32> for Number {
    fn from(v: i32) -> Self {
        Number(v.to_string())
    }
}

impl FromStr for Number {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Number::parse(s)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical() {
        for (i, o) in [
            ("0", "0"),
            ("-0", "0"),
            ("007", "7"),
            ("1.50", "1.5"),
            ("1e3", "1000"),
            ("1.25e-3", "0.00125"),
            ("-12.5E1", "-125"),
            (".5", "0.5"),
            ("5.", "5"),
        ] {
            assert_eq!(Number::parse(i).unwrap().as_str(), o, "{i}");
        }
        assert!(Number::parse("abc").is_err());
        assert!(Number::parse("1e9999999999").is_err());
        let big = Number::parse("1e400").unwrap();
        assert_eq!(big.as_str().len(), 401);
    }

    #[test]
    fn floats() {
        assert_eq!(Number::from_f64(0.5).unwrap().as_str(), "0.5");
        assert!(Number::parse("0.1").unwrap().as_exact_f64().is_none());
        assert_eq!(Number::parse("0.25").unwrap().as_exact_f64(), Some(0.25));
    }
}
