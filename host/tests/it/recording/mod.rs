mod captions;
mod crash;
mod errors;
mod offload;
mod session;
mod stems;
mod stems_http;
mod webm;
