//! Rate-limit syntax (`<n>r/s`, `<n>r/m`) and the bounds `check` enforces.

/// A parsed rate, in nginx `limit_req_zone` terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Requests per unit.
    pub count: u32,
    /// `true` for per second, `false` for per minute.
    pub per_second: bool,
}

impl Rate {
    /// Requests per second as a float, for comparisons.
    pub fn per_second_f64(self) -> f64 {
        if self.per_second { f64::from(self.count) } else { f64::from(self.count) / 60.0 }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}r/{}", self.count, if self.per_second { "s" } else { "m" })
    }
}

/// The largest sustained rate `check` accepts: above it the limit protects nothing.
pub const MAX_PER_SECOND: f64 = 10_000.0;
/// The largest burst `check` accepts.
pub const MAX_BURST: u32 = 100_000;

/// Parses `<n>r/s` or `<n>r/m` (what nginx accepts), with `n` at least 1.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    // Exact: `"10r/s "` is refused, so what `check` accepts is what nginx gets.
    let t = text;
    let (num, per_second) = if let Some(n) = t.strip_suffix("r/s") {
        (n, true)
    } else if let Some(n) = t.strip_suffix("r/m") {
        (n, false)
    } else {
        return Err(format!("`{text}` is not a rate: write `<n>r/s` or `<n>r/m`, e.g. `10r/s`"));
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("`{text}` is not a rate: the count must be a whole number, e.g. `10r/s`"));
    }
    let count: u32 = num.parse().map_err(|_| format!("`{text}` is not a rate: the count is too large"))?;
    if count == 0 {
        return Err(format!("`{text}` would block every request: the count must be at least 1"));
    }
    Ok(Rate { count, per_second })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nginx_rates() {
        assert_eq!(parse_rate("10r/s"), Ok(Rate { count: 10, per_second: true }));
        assert_eq!(parse_rate("30r/m").unwrap().to_string(), "30r/m");
        assert!(parse_rate("10/s").is_err());
        assert!(parse_rate("0r/s").is_err());
        assert!(parse_rate("1.5r/s").is_err());
        assert!(parse_rate("r/s").is_err());
        assert!(parse_rate("10r/s ").is_err());
        assert!(parse_rate(" 10r/s").is_err());
    }
}
