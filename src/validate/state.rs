//! The three states the endpoint accepts, parsed forgivingly, with suggestions for typos.

use std::fmt;

use serde::Serialize;

/// The states the endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum State {
    /// `OK`.
    #[serde(rename = "OK")]
    Ok,
    /// `KO`.
    #[serde(rename = "KO")]
    Ko,
    /// `CANCELLED`.
    #[serde(rename = "CANCELLED")]
    Cancelled,
}

impl State {
    /// Every state, in the order summaries list them.
    pub const ALL: [State; 3] = [State::Ok, State::Ko, State::Cancelled];

    /// The text sent to the endpoint.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Ko => "KO",
            State::Cancelled => "CANCELLED",
        }
    }

    /// Position in [`State::ALL`], for per-state counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses a state cell: trimmed, case-insensitive.
    pub fn parse(text: &str) -> Option<State> {
        let upper = text.trim().to_ascii_uppercase();
        State::ALL.into_iter().find(|s| s.as_str() == upper)
    }

    /// The state a mistyped value most likely meant, if one is close.
    pub fn suggest(text: &str) -> Option<State> {
        let upper = text.trim().to_uppercase();
        let alias = match upper.as_str() {
            "CANCELED" | "CANCEL" | "CANCELADO" | "CANCELADA" | "ANULADO" => Some(State::Cancelled),
            "0K" | "OKAY" | "VALID" | "VALIDO" | "VÁLIDO" | "APROBADO" => Some(State::Ok),
            "K0" | "NOK" | "NO_OK" | "INVALID" | "RECHAZADO" => Some(State::Ko),
            _ => None,
        };
        alias.or_else(|| {
            State::ALL
                .into_iter()
                .map(|s| (strsim::damerau_levenshtein(&upper, s.as_str()), s))
                .filter(|(distance, s)| *distance <= 2 && *distance < s.as_str().len())
                .min_by_key(|(distance, _)| *distance)
                .map(|(_, s)| s)
        })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
