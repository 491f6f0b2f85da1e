//! Request parameters from the query string and an `application/x-www-form-urlencoded` body (the API accepts
//! both, as Prometheus does), and Prometheus' notations for times and durations in them.

use vigil_model::time::{parse_duration, parse_rfc3339};

use super::error::ApiError;

/// All `name=value` pairs of a request, in order; repeated names (`match[]`) keep every value.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Collects the pairs of the query string and of a form body.
    pub fn parse(query: Option<&str>, form_body: Option<&[u8]>) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        if let Some(query) = query {
            decode_pairs(query.as_bytes(), &mut pairs)?;
        }
        if let Some(body) = form_body {
            decode_pairs(body, &mut pairs)?;
        }
        Ok(Params { pairs })
    }

    /// The first value of `name`, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// A required parameter.
    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::bad_data(format!("missing parameter {name:?}")))
    }

    /// A time parameter in milliseconds, or `default` when absent.
    pub fn time_or(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => {
                parse_time(text).map_err(|msg| ApiError::bad_data(format!("invalid parameter {name:?}: {msg}")))
            }
        }
    }

    /// A duration parameter in milliseconds, if given.
    pub fn duration(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|text| {
                parse_duration_param(text)
                    .map_err(|msg| ApiError::bad_data(format!("invalid parameter {name:?}: {msg}")))
            })
            .transpose()
    }
}

/// The times Prometheus accepts: Unix seconds with an optional fraction, or RFC 3339.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        let ms = (seconds * 1000.0).round();
        if !ms.is_finite() || ms.abs() > 9.2e15 {
            return Err(format!("cannot parse {text:?} to a valid timestamp"));
        }
        return Ok(ms as i64);
    }
    parse_rfc3339(text).map_err(|_| format!("cannot parse {text:?} to a valid timestamp"))
}

/// Durations as the API takes them: seconds with an optional fraction (`15`, `0.5`) or `1m30s`.
pub fn parse_duration_param(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        let ms = (seconds * 1000.0).round();
        if !ms.is_finite() || ms.abs() > 9.2e15 {
            return Err(format!("cannot parse {text:?} to a valid duration"));
        }
        return Ok(ms as i64);
    }
    parse_duration(text).map_err(|_| format!("cannot parse {text:?} to a valid duration"))
}

fn decode_pairs(input: &[u8], out: &mut Vec<(String, String)>) -> Result<(), ApiError> {
    for part in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        out.push((percent_decode(name)?, percent_decode(value)?));
    }
    Ok(())
}

fn percent_decode(input: &[u8]) -> Result<String, ApiError> {
    let mut bytes = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = input.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = byte else {
                    return Err(ApiError::bad_data("invalid percent-encoding in request parameters"));
                };
                bytes.push(byte);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| ApiError::bad_data("request parameters are not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_string_and_form_body_both_count() {
        let p = Params::parse(Some("query=up%7Bjob%3D%22a%22%7D&match[]=x"), Some(b"match%5B%5D=y+z&time=")).unwrap();
        assert_eq!(p.get("query"), Some("up{job=\"a\"}"));
        assert_eq!(p.all("match[]").collect::<Vec<_>>(), ["x", "y z"]);
        assert_eq!(p.get("time"), None);
        assert!(Params::parse(Some("a=%zz"), None).is_err());
        assert!(Params::parse(Some("a=%e9"), None).is_err());
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("2015-07-01T20:10:51.781Z"), Ok(1_435_781_451_781));
        assert!(parse_time("tomorrow").is_err());
        assert!(parse_time("1e300").is_err());
        assert_eq!(parse_duration_param("15"), Ok(15_000));
        assert_eq!(parse_duration_param("0.5"), Ok(500));
        assert_eq!(parse_duration_param("1m30s"), Ok(90_000));
        assert!(parse_duration_param("NaN").is_err());
    }
}
