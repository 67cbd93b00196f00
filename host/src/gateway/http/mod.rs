//! HTTP routes besides the access doors: `/health` and `/ready` ([`health`]), the frontend's
//! settings API `/api/config*` ([`settings`]), the recordings `/recordings/<folder>/<file>`
//! ([`recordings`], with [`file_serving`] for the disk side), and the Prometheus `/metrics`
//! ([`metrics`](mod@metrics)).

mod admin_views;
mod briefings;
mod episode_list;
mod file_serving;
mod health;
mod metrics;
pub mod openapi;
mod recordings;
mod settings;
mod stems;
mod transcript;

pub use file_serving::byte_range;
pub use metrics::serve_metrics;
pub use recordings::is_recording_folder_name;
pub use settings::{is_json_content_type, parse_json};
