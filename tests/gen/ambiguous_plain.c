unsigned first_fn(unsigned a, unsigned b) { return a * b; }
unsigned second_fn(unsigned a, unsigned b) { return a + b; }
