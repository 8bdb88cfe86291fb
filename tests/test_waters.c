#include "test.h"

void suite_waters(void)
{
}
