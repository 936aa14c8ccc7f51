#ifndef SLUICE_CSMBCLIENT_SHIM_H
#define SLUICE_CSMBCLIENT_SHIM_H
#include <sys/types.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <libsmbclient.h>
#endif
