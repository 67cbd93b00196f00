pub mod foreign_build;
pub mod fuzz;
pub mod plugin_check;
pub mod plugins;
pub mod recording;
pub mod server;
pub mod stt;
pub mod studio;
