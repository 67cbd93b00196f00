mod captions;
mod crash;
mod errors;
mod offload;
mod session;
mod webm;
