//! ACLs: CreateAcls (rdkafka 0.39 does not wrap it). kcluster grants a secure cluster's
//! `reader` user its rights with it.

use std::os::raw::c_char;
use std::time::Duration;

use anyhow::Result;
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

use super::{c_string, no_options, slice, submit, text, AdminError, Owned};
use crate::failure::Failure;

/// The kind of resource an ACL is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Topic,
    Group,
    Cluster,
}

/// What an ACL allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    Write,
    Create,
    Describe,
    DescribeConfigs,
}

/// One ALLOW ACL on a literal resource name (`*` means every resource of its kind), for
/// a principal (`User:NAME`) from any host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub resource: Resource,
    pub name: String,
    pub principal: String,
    pub operation: Operation,
}

impl Allow {
    fn resource_type(&self) -> rd::rd_kafka_ResourceType_t {
        use rd::rd_kafka_ResourceType_t::*;
        match self.resource {
            Resource::Topic => RD_KAFKA_RESOURCE_TOPIC,
            Resource::Group => RD_KAFKA_RESOURCE_GROUP,
            Resource::Cluster => RD_KAFKA_RESOURCE_BROKER,
        }
    }

    fn operation(&self) -> rd::rd_kafka_AclOperation_t {
        use rd::rd_kafka_AclOperation_t::*;
        match self.operation {
            Operation::Read => RD_KAFKA_ACL_OPERATION_READ,
            Operation::Write => RD_KAFKA_ACL_OPERATION_WRITE,
            Operation::Create => RD_KAFKA_ACL_OPERATION_CREATE,
            Operation::Describe => RD_KAFKA_ACL_OPERATION_DESCRIBE,
            Operation::DescribeConfigs => RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS,
        }
    }
}

/// Create ALLOW ACLs (creating one that exists already is no error); the first ACL the
/// brokers refuse is the error.
pub fn create_acls<C: ClientContext>(
    client: &Client<C>,
    acls: &[Allow],
    timeout: Duration,
) -> Result<()> {
    let mut bindings = Vec::with_capacity(acls.len());
    for acl in acls {
        let name = c_string(&acl.name, "resource name")?;
        let principal = c_string(&acl.principal, "principal")?;
        let mut errstr = [0 as c_char; 512];
        // SAFETY: NUL-terminated strings (copied by librdkafka) and a writable buffer.
        let ptr = unsafe {
            rd::rd_kafka_AclBinding_new(
                acl.resource_type(),
                name.as_ptr(),
                rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_LITERAL,
                principal.as_ptr(),
                c"*".as_ptr(),
                acl.operation(),
                rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        if ptr.is_null() {
            let why = text(errstr.as_ptr()).unwrap_or_else(|| "invalid arguments".into());
            return Err(Failure::usage(format!("bad ACL {acl:?}: {why}")).into());
        }
        bindings.push(Owned::new(ptr, rd::rd_kafka_AclBinding_destroy, "an ACL")?);
    }
    let mut pointers: Vec<*mut rd::rd_kafka_AclBinding_t> =
        bindings.iter().map(|b| b.ptr).collect();
    let event = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS,
        rd::RD_KAFKA_EVENT_CREATEACLS_RESULT,
        timeout,
        no_options,
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the bindings.
            unsafe {
                rd::rd_kafka_CreateAcls(rk, pointers.as_mut_ptr(), pointers.len(), options, queue)
            }
        },
    )?
    .wait()?;
    // SAFETY: the event is a CreateAcls result, alive until the end of this function.
    let errors: Vec<AdminError> = unsafe {
        let result = rd::rd_kafka_event_CreateAcls_result(event.ptr());
        let mut count = 0usize;
        let results = rd::rd_kafka_CreateAcls_result_acls(result, &mut count);
        slice(results as *const *const rd::rd_kafka_acl_result_t, count)
            .iter()
            .filter_map(|result| AdminError::from_error(rd::rd_kafka_acl_result_error(*result)))
            .collect()
    };
    match errors.into_iter().next() {
        None => Ok(()),
        Some(error) if error.is_not_authorized() => {
            Err(Failure::denied("cannot create ACLs", error).into())
        }
        Some(error) => Err(anyhow::Error::new(error).context("creating ACLs")),
    }
}
