#include "test.h"

void suite_format(void)
{
}
