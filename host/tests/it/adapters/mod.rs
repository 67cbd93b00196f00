mod llm;
mod stt;
mod tts;
