//! The services the guest can use, with their URLs, key variables and default models.

/// One OpenAI-compatible service (GUEST_PROVIDER).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestProvider {
    /// Groq (GROQ_API_KEY).
    Groq,
    /// Together AI (TOGETHER_API_KEY).
    Together,
    /// OpenAI (OPENAI_API_KEY).
    OpenAi,
    /// xAI Grok (GROK_API_KEY).
    Grok,
    /// A local llama.cpp (or other OpenAI-compatible) server at LOCAL_LLAMA_ENDPOINT; key optional.
    Local,
}

/// Every provider, for messages that list the choices.
pub const ALL: [GuestProvider; 5] = [
    GuestProvider::Groq,
    GuestProvider::Together,
    GuestProvider::OpenAi,
    GuestProvider::Grok,
    GuestProvider::Local,
];

impl GuestProvider {
    /// Parses GUEST_PROVIDER's spelling (case and surrounding spaces ignored).
    pub fn parse(text: &str) -> Option<Self> {
        ALL.into_iter()
            .find(|p| p.id().eq_ignore_ascii_case(text.trim()))
    }

    /// GUEST_PROVIDER's spelling, also the prefix of its config keys (`groq_base_url`).
    pub fn id(self) -> &'static str {
        match self {
            Self::Groq => "groq",
            Self::Together => "together",
            Self::OpenAi => "openai",
            Self::Grok => "grok",
            Self::Local => "local",
        }
    }

    /// The name people know it by, for messages.
    pub fn display(self) -> &'static str {
        match self {
            Self::Groq => "Groq",
            Self::Together => "Together",
            Self::OpenAi => "OpenAI",
            Self::Grok => "xAI Grok",
            Self::Local => "The local LLM server",
        }
    }

    /// The secret holding its API key (the local server's is optional).
    pub fn key_variable(self) -> &'static str {
        match self {
            Self::Groq => "GROQ_API_KEY",
            Self::Together => "TOGETHER_API_KEY",
            Self::OpenAi => "OPENAI_API_KEY",
            Self::Grok => "GROK_API_KEY",
            Self::Local => "LOCAL_LLAMA_API_KEY",
        }
    }

    /// Whether a call without a key is refused before it is sent.
    pub fn needs_key(self) -> bool {
        self != Self::Local
    }

    /// The real service's base URL (the part before `/chat/completions`).
    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::Groq => "https://api.groq.com/openai/v1",
            Self::Together => "https://api.together.xyz/v1",
            Self::OpenAi => "https://api.openai.com/v1",
            Self::Grok => "https://api.x.ai/v1",
            Self::Local => "http://localhost:8080/v1",
        }
    }

    /// The model used when neither the request, GUEST_MODEL nor `model` names one. Fast,
    /// non-reasoning models: a spoken line cannot wait for a long think.
    pub fn default_model(self) -> &'static str {
        match self {
            Self::Groq => "llama-3.3-70b-versatile",
            Self::Together => "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            Self::OpenAi => "gpt-4.1-mini",
            Self::Grok => "grok-3",
            // llama.cpp serves whatever it loaded and ignores the name.
            Self::Local => "local",
        }
    }

    /// OpenAI deprecated `max_tokens` for `max_completion_tokens` (newer models refuse the old
    /// name); the others document `max_tokens`.
    pub fn max_tokens_field(self) -> &'static str {
        match self {
            Self::OpenAi => "max_completion_tokens",
            _ => "max_tokens",
        }
    }
}

/// `base/chat/completions`, unless `base` already is the full endpoint.
pub fn completions_url(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    if base.ends_with("/chat/completions") {
        base.to_owned()
    } else {
        format!("{base}/chat/completions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_parse_from_their_ids() {
        for provider in ALL {
            assert_eq!(GuestProvider::parse(provider.id()), Some(provider));
        }
        assert_eq!(GuestProvider::parse(" Groq "), Some(GuestProvider::Groq));
        assert_eq!(GuestProvider::parse("mistral"), None);
    }

    #[test]
    fn the_endpoint_is_under_the_base_url() {
        assert_eq!(
            completions_url("https://api.groq.com/openai/v1/"),
            "https://api.groq.com/openai/v1/chat/completions"
        );
        assert_eq!(
            completions_url("http://127.0.0.1:8080/v1/chat/completions"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
    }
}
