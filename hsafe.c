#define HSAFE_IMPLEMENTATION
#include "hsafe.h"
