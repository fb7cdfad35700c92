//! DynamoDB number strings: syntax check and exact conversion to integers and floats.
//!
//! DynamoDB sends every number as a decimal string (`"12345"`, `"1.5e3"`), and the old bot
//! sometimes stored numbers as plain strings too. This module owns reading such strings
//! exactly: `"1.5e3"` is the integer 1500, `"12.5"` is not an integer, and nothing is rounded.
//! It knows nothing about attributes, records or files.

/// Why a number string could not become the integer that was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntegerError {
    /// Not a decimal number at all (`"abc"`, `""`, `"1e"`).
    NotANumber,
    /// A number, but with a non-zero fractional part (`"12.5"`).
    NotAnInteger,
    /// An integer too large for `i64`.
    OutOfRange,
}

/// The parts of a number string that passed the syntax check.
struct Decimal<'a> {
    negative: bool,
    /// Digits before the decimal point.
    int: &'a [u8],
    /// Digits after the decimal point.
    frac: &'a [u8],
    /// Power of ten the digits are multiplied by (the exponent minus the fraction length).
    scale: i64,
}

/// Exponents beyond this are clamped: they make any non-zero number out of range (or a
/// non-integer) anyway, and clamping keeps the arithmetic below free of overflow.
const EXPONENT_CLAMP: i64 = 1_000_000;

/// Splits `s` into sign, digits and scale if it has DynamoDB number syntax: an optional sign,
/// digits with an optional fraction (at least one digit in all), an optional exponent.
fn split(s: &str) -> Option<Decimal<'_>> {
    let bytes = s.as_bytes();
    let mut at = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            at = 1;
            true
        }
        Some(b'+') => {
            at = 1;
            false
        }
        _ => false,
    };
    let int_start = at;
    while at < bytes.len() && bytes[at].is_ascii_digit() {
        at += 1;
    }
    let int_end = at;
    let mut frac = &bytes[int_end..int_end];
    if at < bytes.len() && bytes[at] == b'.' {
        at += 1;
        let frac_start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        frac = &bytes[frac_start..at];
    }
    if int_end == int_start && frac.is_empty() {
        return None;
    }
    let mut exponent: i64 = 0;
    if at < bytes.len() && (bytes[at] == b'e' || bytes[at] == b'E') {
        at += 1;
        let exp_negative = match bytes.get(at) {
            Some(b'-') => {
                at += 1;
                true
            }
            Some(b'+') => {
                at += 1;
                false
            }
            _ => false,
        };
        let exp_start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            exponent = (exponent * 10 + i64::from(bytes[at] - b'0')).min(EXPONENT_CLAMP);
            at += 1;
        }
        if at == exp_start {
            return None;
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    if at != bytes.len() {
        return None;
    }
    // `frac.len()` is at most the input length, far below i64::MAX.
    let scale = exponent - frac.len() as i64;
    Some(Decimal {
        negative,
        int: &bytes[int_start..int_end],
        frac,
        scale,
    })
}

/// True when `s` has DynamoDB number syntax (see [`split`]).
pub(crate) fn is_number(s: &str) -> bool {
    split(s).is_some()
}

/// Reads `s` as an exact integer: `"1500"`, `"1.5e3"` and `"1500.0"` are all 1500.
pub(crate) fn parse_integer(s: &str) -> Result<i64, IntegerError> {
    let decimal = split(s).ok_or(IntegerError::NotANumber)?;
    // Digits without the decimal point, most significant first.
    let digits: Vec<u8> = decimal.int.iter().chain(decimal.frac).copied().collect();
    let first_non_zero = digits.iter().position(|&d| d != b'0');
    let Some(first_non_zero) = first_non_zero else {
        return Ok(0);
    };
    let mut significant = &digits[first_non_zero..];
    let mut scale = decimal.scale;
    if scale < 0 {
        // Dropping digits below the decimal point is exact only when they are all zero.
        let drop = usize::try_from(-scale).unwrap_or(usize::MAX);
        if drop >= significant.len() {
            return Err(IntegerError::NotAnInteger);
        }
        let (kept, dropped) = significant.split_at(significant.len() - drop);
        if dropped.iter().any(|&d| d != b'0') {
            return Err(IntegerError::NotAnInteger);
        }
        significant = kept;
        scale = 0;
    }
    // i64::MAX has 19 digits: anything longer cannot fit.
    if significant.len() as i64 + scale > 19 {
        return Err(IntegerError::OutOfRange);
    }
    let mut magnitude: u128 = 0;
    for &d in significant {
        magnitude = magnitude * 10 + u128::from(d - b'0');
    }
    for _ in 0..scale {
        magnitude *= 10;
    }
    // Both bounds fit in u128 and the magnitude has at most 19 digits, so no overflow above.
    let value = if decimal.negative {
        0i128 - magnitude as i128
    } else {
        magnitude as i128
    };
    i64::try_from(value).map_err(|_| IntegerError::OutOfRange)
}

/// Reads `s` as a finite float; `None` when it is not a number or overflows `f64`.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    // The syntax check first: Rust's parser also accepts "inf" and "NaN", DynamoDB does not.
    split(s)?;
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_exponent_integers_are_exact() {
        assert_eq!(parse_integer("12345"), Ok(12345));
        assert_eq!(parse_integer("1.5e3"), Ok(1500));
        assert_eq!(parse_integer("1500.000"), Ok(1500));
        assert_eq!(parse_integer("-42"), Ok(-42));
        assert_eq!(parse_integer("+7"), Ok(7));
        assert_eq!(parse_integer("0"), Ok(0));
        assert_eq!(parse_integer("0.000e-5"), Ok(0));
        assert_eq!(parse_integer("12E+1"), Ok(120));
        assert_eq!(parse_integer("00012"), Ok(12));
    }

    #[test]
    fn fractions_are_not_integers() {
        assert_eq!(parse_integer("12.5"), Err(IntegerError::NotAnInteger));
        assert_eq!(parse_integer("1.55e1"), Err(IntegerError::NotAnInteger));
        assert_eq!(parse_integer("5e-1"), Err(IntegerError::NotAnInteger));
        assert_eq!(
            parse_integer("1e-999999999"),
            Err(IntegerError::NotAnInteger)
        );
    }

    #[test]
    fn integers_beyond_i64_are_out_of_range() {
        assert_eq!(parse_integer("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_integer("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_integer("9223372036854775808"),
            Err(IntegerError::OutOfRange)
        );
        assert_eq!(parse_integer("1e19"), Err(IntegerError::OutOfRange));
        assert_eq!(parse_integer("1e999999999"), Err(IntegerError::OutOfRange));
        assert_eq!(
            parse_integer("99999999999999999999999999999999999999"),
            Err(IntegerError::OutOfRange)
        );
    }

    #[test]
    fn malformed_strings_are_not_numbers() {
        for bad in [
            "", "-", ".", "abc", "1e", "1e+", "1.2.3", " 1", "1 ", "inf", "NaN", "0x10",
        ] {
            assert_eq!(parse_integer(bad), Err(IntegerError::NotANumber), "{bad:?}");
            assert!(!is_number(bad), "{bad:?}");
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats_parse_and_reject_overflow() {
        assert_eq!(parse_float("0.25"), Some(0.25));
        assert_eq!(parse_float("-1.5e2"), Some(-150.0));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float("1e999"), None);
    }
}
