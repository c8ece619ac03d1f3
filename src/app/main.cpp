#include "Commands.hpp"

int main(int argc, char** argv) { return trkaas::app::run(argc, argv); }
