#ifndef CBI_VERSION_H
#define CBI_VERSION_H
#define CBI_VERSION "0.1.0"
#endif
