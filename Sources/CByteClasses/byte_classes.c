/* Everything is in the header (static inline, so Swift inlines it); a C target needs a source file. */
#include "byte_classes.h"
