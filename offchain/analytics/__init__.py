"""Statistics and models written on the engine, and the job specs that name them."""
