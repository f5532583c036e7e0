// OpenCL 1.2 API (Debian: ocl-icd-opencl-dev, opencl-headers). The same target version as the
// CLBlast shim, else the headers default to 3.0 and deprecate clCreateCommandQueue.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
