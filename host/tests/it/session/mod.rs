mod limits;
mod spoken;
mod turn_loop;
