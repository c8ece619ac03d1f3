#include "TrkaasCatch.hpp"
