mod limits;
mod turn_loop;
